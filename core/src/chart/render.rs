//! The shared machinery of every chart: a chart is laid out once as a `Scene` of filled rectangles
//! and text in 1× CSS pixels, then replayed onto a 2× bitmap (plotters' `BitMapBackend`, encoded to
//! PNG here) and onto an SVG string (plotters' `SVGBackend`). Bitmap text is rasterized with
//! `ab_glyph` from the embedded DejaVu Sans, and layout code measures text with `text_width` in the
//! same font, so what fits in the layout fits in the PNG.

use std::io::Write;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use plotters::backend::DrawingBackend;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Chart;
use crate::{Error, Result};

/// DejaVu Sans 2.37, unmodified; its licence is `DejaVuSans.LICENSE` beside this file.
static FONT_BYTES: &[u8] = include_bytes!("DejaVuSans.ttf");

/// The CSS font list the SVG asks for: the embedded face first, then similar or narrower ones.
const SVG_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
/// plotters' SVG backend writes `font-size = size / 1.24`.
const SVG_EM: f64 = 1.24;
/// How many bitmap pixels make one CSS pixel.
pub(super) const PNG_SCALE: u32 = 2;

/// The palette: white ground, one accent for prunable layers, a grey for the rest.
pub(super) const ACCENT: RGBColor = RGBColor(0x35, 0x6c, 0xd4);
pub(super) const GREY: RGBColor = RGBColor(0xb3, 0xb9, 0xc2);
pub(super) const INK: RGBColor = RGBColor(0x1f, 0x23, 0x28);
pub(super) const MUTED: RGBColor = RGBColor(0x5f, 0x66, 0x70);
pub(super) const GRID: RGBColor = RGBColor(0xe4, 0xe7, 0xeb);
pub(super) const AXIS: RGBColor = RGBColor(0x9a, 0xa1, 0xab);
pub(super) const ZEBRA: RGBColor = RGBColor(0xf6, 0xf7, 0xf9);

/// Text sizes, in CSS pixels to the em.
pub(super) const TITLE_SIZE: f64 = 15.0;
pub(super) const LABEL_SIZE: f64 = 12.0;
pub(super) const SMALL_SIZE: f64 = 11.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone)]
enum Op {
    Rect {
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        color: RGBColor,
    },
    Text {
        text: String,
        x: f64,
        baseline: f64,
        size: f64,
        color: RGBColor,
        align: Align,
        bold: bool,
    },
}

/// A chart laid out in 1× CSS pixels, ready to render.
#[derive(Debug, Clone)]
pub(super) struct Scene {
    width: u32,
    height: u32,
    ops: Vec<Op>,
}

impl Scene {
    pub(super) fn new(width: u32, height: u32) -> Self {
        Scene {
            width,
            height,
            ops: Vec::new(),
        }
    }

    /// A filled rectangle from (x0, y0) to (x1, y1); nothing when it is empty.
    pub(super) fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, color: RGBColor) {
        if x1 > x0 && y1 > y0 {
            self.ops.push(Op::Rect {
                x0,
                y0,
                x1,
                y1,
                color,
            });
        }
    }

    /// One line of text whose baseline is at `baseline`, anchored at `x` by `align`.
    pub(super) fn text(
        &mut self,
        text: impl Into<String>,
        x: f64,
        baseline: f64,
        size: f64,
        color: RGBColor,
        align: Align,
    ) {
        self.push_text(text.into(), x, baseline, size, color, align, false);
    }

    /// Like `text`, in a heavier weight (the bitmap emboldens the regular face by a third of a
    /// pixel; the SVG asks for bold). For short headings: the layout measures the regular face.
    pub(super) fn bold_text(
        &mut self,
        text: impl Into<String>,
        x: f64,
        baseline: f64,
        size: f64,
        color: RGBColor,
        align: Align,
    ) {
        self.push_text(text.into(), x, baseline, size, color, align, true);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_text(
        &mut self,
        text: String,
        x: f64,
        baseline: f64,
        size: f64,
        color: RGBColor,
        align: Align,
        bold: bool,
    ) {
        if !text.is_empty() {
            self.ops.push(Op::Text {
                text,
                x,
                baseline,
                size,
                color,
                align,
                bold,
            });
        }
    }
}

/// The embedded font, parsed once.
fn font() -> Result<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| {
            Error::Runtime(
                "the chart could not be drawn (the embedded font did not load); this is a bug in prunekit."
                    .to_string(),
            )
        })
}

/// Lays `text` out at `size` px to the em, pen starting at (0, 0) on the baseline, with kerning.
/// Returns the glyphs and the advance width.
fn layout(font: &FontRef<'static>, text: &str, size: f64) -> (Vec<Glyph>, f64) {
    let units_per_em = font.units_per_em().unwrap_or(2048.0);
    let scale = PxScale::from(size as f32 * font.height_unscaled() / units_per_em);
    let scaled = font.as_scaled(scale);
    let mut glyphs = Vec::with_capacity(text.len());
    let mut x = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            x += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(x, 0.0)));
        x += scaled.h_advance(id);
        previous = Some(id);
    }
    (glyphs, f64::from(x))
}

/// The advance width of `text` at `size` px to the em, in CSS pixels, in the embedded font.
pub(super) fn text_width(text: &str, size: f64) -> f64 {
    match font() {
        Ok(font) => layout(font, text, size).1,
        // A rough average advance keeps layout going; `render` reports the error.
        Err(_) => text.chars().count() as f64 * size * 0.6,
    }
}

/// `text` if it fits in `max_width`, else its longest tail that fits after an ellipsis
/// (`…/layer4.2/conv3/Conv_output_0`): the end of a layer name is the part that tells layers apart.
pub(super) fn keep_tail(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    // Binary search for the earliest start whose tail still fits; later starts are shorter.
    let (mut lo, mut hi) = (1, starts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if text_width(&format!("…{}", &text[starts[mid]..]), size) <= max_width {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if lo >= starts.len() {
        "…".to_string()
    } else {
        format!("…{}", &text[starts[lo]..])
    }
}

fn draw_error(err: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("the chart could not be drawn ({err})."))
}

/// Renders `scene` to a 2× PNG and to SVG.
pub(super) fn render(scene: &Scene) -> Result<Chart> {
    font()?;
    let png = render_png(scene)?;
    let svg = render_svg(scene)?;
    Ok(Chart {
        png,
        width: scene.width,
        height: scene.height,
        svg,
    })
}

fn render_png(scene: &Scene) -> Result<Vec<u8>> {
    let font = font()?;
    let s = f64::from(PNG_SCALE);
    let (w, h) = (scene.width * PNG_SCALE, scene.height * PNG_SCALE);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let mut backend = BitMapBackend::with_buffer(&mut rgb, (w, h));
        for op in &scene.ops {
            match op {
                Op::Rect {
                    x0,
                    y0,
                    x1,
                    y1,
                    color,
                } => {
                    // plotters fills both corners inclusive: stop one device pixel short.
                    let (dx0, dy0) = ((x0 * s).round() as i32, (y0 * s).round() as i32);
                    let (dx1, dy1) = ((x1 * s).round() as i32 - 1, (y1 * s).round() as i32 - 1);
                    if dx1 >= dx0 && dy1 >= dy0 {
                        backend
                            .draw_rect((dx0, dy0), (dx1, dy1), color, true)
                            .map_err(draw_error)?;
                    }
                }
                Op::Text {
                    text,
                    x,
                    baseline,
                    size,
                    color,
                    align,
                    bold,
                } => {
                    let (glyphs, width) = layout(font, text, size * s);
                    let left = x * s
                        - match align {
                            Align::Left => 0.0,
                            Align::Center => width / 2.0,
                            Align::Right => width,
                        };
                    // A whole-pixel baseline keeps the bottoms of letters crisp.
                    let offset = point(left as f32, (baseline * s).round() as f32);
                    // Bold: the same glyphs again, a third of a CSS pixel to the right.
                    let strikes: &[f32] = if *bold {
                        &[0.0, s as f32 / 3.0]
                    } else {
                        &[0.0]
                    };
                    let mut failed = None;
                    for (mut glyph, dx) in strikes
                        .iter()
                        .flat_map(|dx| glyphs.iter().map(move |g| (g.clone(), *dx)))
                    {
                        glyph.position = glyph.position + offset + point(dx, 0.0);
                        let Some(outline) = font.outline_glyph(glyph) else {
                            continue; // a space
                        };
                        let bounds = outline.px_bounds();
                        let (bx, by) = (bounds.min.x as i32, bounds.min.y as i32);
                        outline.draw(|gx, gy, coverage| {
                            if coverage <= 0.0 || failed.is_some() {
                                return;
                            }
                            let pixel = (bx + gx as i32, by + gy as i32);
                            let paint = color.mix(f64::from(coverage.min(1.0)));
                            if let Err(err) = backend.draw_pixel(pixel, paint.to_backend_color()) {
                                failed = Some(err);
                            }
                        });
                    }
                    if let Some(err) = failed {
                        return Err(draw_error(err));
                    }
                }
            }
        }
        backend.present().map_err(draw_error)?;
    }
    encode_png(&rgb, w, h)
}

fn render_svg(scene: &Scene) -> Result<String> {
    let mut svg = String::new();
    {
        let area =
            SVGBackend::with_string(&mut svg, (scene.width, scene.height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_error)?;
        for op in &scene.ops {
            match op {
                Op::Rect {
                    x0,
                    y0,
                    x1,
                    y1,
                    color,
                } => {
                    let c = [
                        (x0.round() as i32, y0.round() as i32),
                        (x1.round() as i32, y1.round() as i32),
                    ];
                    if c[1].0 > c[0].0 && c[1].1 > c[0].1 {
                        area.draw(&Rectangle::new(c, color.filled()))
                            .map_err(draw_error)?;
                    }
                }
                Op::Text {
                    text,
                    x,
                    baseline,
                    size,
                    color,
                    align,
                    bold,
                } => {
                    // plotters' SVG backend sets `dy="0.76em"` for a `Top` anchor.
                    let pos = (x.round() as i32, (baseline - 0.76 * size).round() as i32);
                    let weight = if *bold {
                        FontStyle::Bold
                    } else {
                        FontStyle::Normal
                    };
                    let family = FontFamily::Name(SVG_FAMILY);
                    let style = TextStyle::from((family, size * SVG_EM, weight))
                        .color(color)
                        .pos(Pos::new(h_pos(*align), VPos::Top));
                    area.draw_text(text, &style, pos).map_err(draw_error)?;
                }
            }
        }
        area.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn h_pos(align: Align) -> HPos {
    match align {
        Align::Left => HPos::Left,
        Align::Center => HPos::Center,
        Align::Right => HPos::Right,
    }
}

/// Encodes an 8-bit RGB buffer as a PNG: IHDR, pHYs (144 dpi, so viewers that read it show the
/// 1× size), one zlib-compressed IDAT with the `Up` filter on every row, IEND.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let stride = width as usize * 3;
    debug_assert_eq!(rgb.len(), stride * height as usize);
    let mut filtered = Vec::with_capacity((stride + 1) * height as usize);
    let zero_row = vec![0u8; stride];
    let mut previous: &[u8] = &zero_row;
    for row in rgb.chunks_exact(stride) {
        filtered.push(2); // Up: each byte minus the byte above it.
        filtered.extend(row.iter().zip(previous).map(|(a, b)| a.wrapping_sub(*b)));
        previous = row;
    }
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(filtered.len() / 8),
        flate2::Compression::new(6),
    );
    let idat = z
        .write_all(&filtered)
        .and_then(|()| z.finish())
        .map_err(|err| draw_error(format!("PNG compression failed: {err}")))?;

    let mut png = Vec::with_capacity(idat.len() + 128);
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, adaptive, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    let per_metre = (144.0_f64 / 0.0254).round() as u32;
    let mut phys = Vec::with_capacity(9);
    phys.extend_from_slice(&per_metre.to_be_bytes());
    phys.extend_from_slice(&per_metre.to_be_bytes());
    phys.push(1); // unit: metre
    chunk(&mut png, b"pHYs", &phys);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_tail_keeps_the_end() {
        let name = "/layer4/layer4.2/conv3/Conv_output_0";
        assert_eq!(keep_tail(name, LABEL_SIZE, 1000.0), name);
        let short = keep_tail(name, LABEL_SIZE, 120.0);
        assert!(short.starts_with('…'), "{short}");
        assert!(name.ends_with(&short['…'.len_utf8()..]), "{short}");
        assert!(text_width(&short, LABEL_SIZE) <= 120.0);
        // One character more would not fit.
        let longer_start = name.len() - (short.len() - '…'.len_utf8()) - 1;
        assert!(text_width(&format!("…{}", &name[longer_start..]), LABEL_SIZE) > 120.0);
        assert_eq!(keep_tail(name, LABEL_SIZE, 1.0), "…");
    }

    #[test]
    fn text_width_grows_with_text_and_size() {
        let a = text_width("Conv", LABEL_SIZE);
        assert!(a > 15.0 && a < 40.0, "{a}");
        assert!(text_width("Conv_output_0", LABEL_SIZE) > a);
        assert!(text_width("Conv", 2.0 * LABEL_SIZE) > 1.9 * a);
    }

    #[test]
    fn png_chunks_are_well_formed() {
        let rgb = vec![200u8; 4 * 3 * 3];
        let png = encode_png(&rgb, 4, 3).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 4);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 3);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    }
}
