//! What every chart has around its panels: the bold title, the muted caption under it, legends of
//! coloured swatches, and the chart drawn when there is nothing to draw.

use plotters::style::RGBColor;

use super::style::{
    CAPTION_BASELINE, INK, LABEL_SIZE, MUTED, PAD, TITLE_BASELINE, TITLE_SIZE, WIDTH, ZEBRA,
};
use crate::chart::render::{Align, Scene, text_width};

/// The title line, shortened at its end when it would not fit.
pub fn title(scene: &mut Scene, heading: &str) {
    let text = keep_head(heading, TITLE_SIZE, f64::from(WIDTH) - 2.0 * PAD);
    scene.bold_text(text, PAD, TITLE_BASELINE, TITLE_SIZE, INK, Align::Left);
}

/// The caption under the title, shortened at its end to `max_width`.
pub fn caption_line(scene: &mut Scene, caption: &str, max_width: f64) {
    let text = keep_head(caption, LABEL_SIZE, max_width);
    scene.text(text, PAD, CAPTION_BASELINE, LABEL_SIZE, MUTED, Align::Left);
}

/// `text` if it fits in `max_width`, else its longest head that fits before an ellipsis.
pub fn keep_head(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    // Binary search for the longest head that fits.
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text_width(&format!("{}…", &text[..ends[mid]]), size) <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    format!("{}…", text[..ends[lo]].trim_end())
}

/// A swatch and a word for each entry, right-aligned at `right`: the legend of every chart with
/// coloured bars or bands.
pub fn legend<S: AsRef<str>>(
    scene: &mut Scene,
    entries: &[(RGBColor, S)],
    right: f64,
    baseline: f64,
) {
    let mut x = right;
    for (color, word) in entries.iter().rev() {
        let word = word.as_ref();
        scene.text(word, x, baseline, LABEL_SIZE, MUTED, Align::Right);
        x -= text_width(word, LABEL_SIZE) + 6.0;
        scene.rect(x - 10.0, baseline - 9.5, x, baseline + 0.5, *color);
        x -= 10.0 + 16.0;
    }
}

/// A chart with nothing to draw: its title and caption, and `message` on a stripe.
pub fn empty_scene(heading: &str, caption: &str, message: &str) -> Scene {
    let width = f64::from(WIDTH);
    let mut scene = Scene::new(WIDTH, 130);
    title(&mut scene, heading);
    caption_line(&mut scene, caption, width - 2.0 * PAD);
    empty_stripe(&mut scene, message);
    scene
}

/// The stripe and message of a chart with nothing to draw, under a title drawn by the caller.
pub fn empty_stripe(scene: &mut Scene, message: &str) {
    let width = f64::from(WIDTH);
    scene.rect(PAD, 64.0, width - PAD, 114.0, ZEBRA);
    scene.text(message, width / 2.0, 93.0, LABEL_SIZE, MUTED, Align::Center);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_kept_within_the_width() {
        assert_eq!(keep_head("abcdef", LABEL_SIZE, 1000.0), "abcdef");
        let short = keep_head("the quick brown fox jumps", LABEL_SIZE, 60.0);
        assert!(short.ends_with('…') && short.starts_with("the"), "{short}");
        assert!(text_width(&short, LABEL_SIZE) <= 60.0);
    }
}
