//! Inspect (Shift+Tab): help for the command under the cursor, or the facts of a layer whose name
//! (or weight name) is under the cursor.

use super::complete::byte_offset;
use super::spec;
use crate::session::KernelSession;

/// Plain text to show, or `None` when there is nothing to say.
pub fn inspect(session: &KernelSession, code: &str, cursor_pos: usize) -> Option<String> {
    let cursor = byte_offset(code, cursor_pos);
    let is_word = |c: char| !c.is_whitespace() && c != '"' && c != '\'';
    let start = code[..cursor].rfind(|c: char| !is_word(c)).map_or(0, |i| {
        i + code[i..].chars().next().map_or(1, char::len_utf8)
    });
    let end = code[cursor..]
        .find(|c: char| !is_word(c))
        .map_or(code.len(), |i| cursor + i);
    let word = &code[start..end];
    if let Some(loaded) = &session.current
        && let Some(layer) = loaded
            .analysis
            .layers
            .iter()
            .find(|l| l.name == word || l.weight.as_ref().is_some_and(|w| w.name == word))
    {
        let shape = |s: &Option<Vec<u64>>| s.as_ref().map_or("?".to_string(), |d| format!("{d:?}"));
        let mut out = format!("{} ({})\n", layer.name, layer.op_type);
        out.push_str(&format!(
            "  inputs   {}\n",
            layer
                .input_shapes
                .iter()
                .map(shape)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.push_str(&format!(
            "  outputs  {}\n",
            layer
                .output_shapes
                .iter()
                .map(shape)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(w) = &layer.weight {
            out.push_str(&format!("  weight   {} {:?}\n", w.name, w.shape));
        }
        out.push_str(&format!(
            "  params   {}\n",
            prunekit_core::format::grouped(layer.params)
        ));
        out.push_str(&format!(
            "  MACs     {}\n",
            layer
                .macs
                .map_or("?".into(), prunekit_core::format::grouped)
        ));
        out.push_str(&format!(
            "  FLOPs    {}\n",
            layer
                .flops
                .map_or("?".into(), prunekit_core::format::grouped)
        ));
        let prunable = match (&layer.is_prunable, &layer.not_prunable_reason) {
            (true, _) => format!(
                "yes, {} of {} weights already zero",
                layer.zeroed_params, layer.prunable_params
            ),
            (false, Some(why)) => format!("no: {why}"),
            (false, None) => "no".into(),
        };
        out.push_str(&format!("  prunable {prunable}\n"));
        return Some(out);
    }
    // The command of the line under the cursor.
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let verb = code[line_start..].split_whitespace().next().unwrap_or(word);
    spec::find(word)
        .or_else(|| spec::find(verb))
        .map(spec::help_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_for_the_command_under_the_cursor() {
        let s = KernelSession::default();
        assert!(inspect(&s, "load", 2).unwrap().starts_with("load PATH"));
        assert!(
            inspect(&s, "layers --top 3", 12)
                .unwrap()
                .starts_with("layers")
        );
        assert_eq!(inspect(&s, "", 0), None);
    }
}
