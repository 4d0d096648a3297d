//! HTML tables for notebook outputs: plain table elements and inline styles only, since JupyterLab
//! sanitises the HTML of untrusted notebooks.

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub struct Column<'a> {
    pub title: &'a str,
    pub is_numeric: bool,
}

/// A table with an optional caption; numeric columns are right-aligned.
pub fn html(caption: Option<&str>, columns: &[Column], rows: &[Vec<String>]) -> String {
    let align = |c: &Column| {
        if c.is_numeric {
            "text-align:right"
        } else {
            "text-align:left"
        }
    };
    let mut out = String::from("<table>");
    if let Some(caption) = caption {
        out.push_str(&format!(
            "<caption style=\"text-align:left\">{}</caption>",
            escape(caption)
        ));
    }
    out.push_str("<thead><tr>");
    for c in columns {
        out.push_str(&format!(
            "<th style=\"{}\">{}</th>",
            align(c),
            escape(c.title)
        ));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (c, cell) in columns.iter().zip(row) {
            out.push_str(&format!("<td style=\"{}\">{}</td>", align(c), escape(cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_numbers_right_aligned() {
        let cols = [
            Column {
                title: "layer",
                is_numeric: false,
            },
            Column {
                title: "params",
                is_numeric: true,
            },
        ];
        let html = html(Some("a<b"), &cols, &[vec!["<script>".into(), "3".into()]]);
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("a&lt;b"));
        assert!(html.contains("<td style=\"text-align:right\">3</td>"));
    }
}
