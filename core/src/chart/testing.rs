//! What every chart test checks, and where sample charts go to be looked at.

use super::Chart;

/// The pixel size in a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h)
}

/// A well-formed chart (a 2× PNG of its declared size, an SVG) whose SVG has each of `texts`.
pub fn check(chart: &Chart, texts: &[&str]) {
    assert!(chart.width > 0 && chart.height > 0);
    assert_eq!(png_size(&chart.png), (2 * chart.width, 2 * chart.height));
    assert!(chart.svg.contains("<svg"));
    for text in texts {
        assert!(chart.svg.contains(text), "{text:?} not in the SVG");
    }
}

/// Writes the chart as `NAME.png` and `NAME.svg` when `PRUNEKIT_CHART_DIR` is set, to look at it.
pub fn save(chart: &Chart, name: &str) {
    if let Some(dir) = std::env::var_os("PRUNEKIT_CHART_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join(format!("{name}.png")), &chart.png).unwrap();
        std::fs::write(dir.join(format!("{name}.svg")), &chart.svg).unwrap();
    }
}
