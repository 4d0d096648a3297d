//! The shared machinery of every chart: a chart is laid out once as a `Scene` of filled rectangles
//! and text in 1× CSS pixels, then replayed onto a 2× bitmap (plotters' `BitMapBackend`, encoded to
//! PNG here) and onto an SVG string (plotters' `SVGBackend`). Bitmap text is rasterized with
//! `ab_glyph` from the embedded DejaVu Sans, and layout code measures text with `text_width` in the
//! same font, so what fits in the layout fits in the PNG.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, Point, PxScale, ScaleFont, point};
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
    /// A polyline of `width` CSS pixels, round-joined in the bitmap.
    Line {
        points: Vec<(f64, f64)>,
        width: f64,
        color: RGBColor,
    },
    /// A filled disc.
    Dot {
        x: f64,
        y: f64,
        radius: f64,
        color: RGBColor,
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

    /// A polyline through `points`, `width` CSS pixels wide; nothing for fewer than two points.
    pub(super) fn line(&mut self, points: &[(f64, f64)], width: f64, color: RGBColor) {
        let points: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        if points.len() >= 2 && width > 0.0 {
            self.ops.push(Op::Line {
                points,
                width,
                color,
            });
        }
    }

    /// A filled disc of `radius` CSS pixels centred on (x, y).
    pub(super) fn dot(&mut self, x: f64, y: f64, radius: f64, color: RGBColor) {
        if x.is_finite() && y.is_finite() && radius > 0.0 {
            self.ops.push(Op::Dot {
                x,
                y,
                radius,
                color,
            });
        }
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

/// `text` if it fits in `max_width`, else its longest tail that fits after an ellipsis, started at
/// a `/` when one is within a few characters (`…/layer4.2/conv3/Conv_output_0`): the end of a layer
/// name is the part that tells layers apart.
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
        return "…".to_string();
    }
    let tail = &text[starts[lo]..];
    // Rather start at a path separator than mid-word, when one is near: `…/block74/..`.
    match tail.char_indices().take(12).find(|&(_, c)| c == '/') {
        Some((i, _)) if i > 0 && i < tail.len() - 1 => format!("…{}", &tail[i..]),
        _ => format!("…{tail}"),
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
                    let origin = point(left as f32, (baseline * s).round() as f32);
                    // Bold: the same glyphs again, a third of a CSS pixel to the right.
                    let strikes: &[f32] = if *bold {
                        &[0.0, s as f32 / 3.0]
                    } else {
                        &[0.0]
                    };
                    let coverage = Coverage::of(font, &glyphs, origin, strikes);
                    for (pixel, alpha) in coverage.pixels() {
                        let paint = color.mix(alpha).to_backend_color();
                        backend.draw_pixel(pixel, paint).map_err(draw_error)?;
                    }
                }
                Op::Line {
                    points,
                    width,
                    color,
                } => {
                    let points: Vec<(f64, f64)> =
                        points.iter().map(|(x, y)| (x * s, y * s)).collect();
                    let coverage = Coverage::of_stroke(&points, width * s / 2.0, (w, h));
                    for (pixel, alpha) in coverage.pixels() {
                        let paint = color.mix(alpha).to_backend_color();
                        backend.draw_pixel(pixel, paint).map_err(draw_error)?;
                    }
                }
                Op::Dot {
                    x,
                    y,
                    radius,
                    color,
                } => {
                    let coverage = Coverage::of_stroke(&[(x * s, y * s)], radius * s, (w, h));
                    for (pixel, alpha) in coverage.pixels() {
                        let paint = color.mix(alpha).to_backend_color();
                        backend.draw_pixel(pixel, paint).map_err(draw_error)?;
                    }
                }
            }
        }
        backend.present().map_err(draw_error)?;
    }
    encode_png(&rgb, w, h)
}

/// How much of each pixel of one line of text the glyphs cover, added up over all its glyphs and
/// strikes before it is painted, so that overlapping edges blend once.
struct Coverage {
    left: i32,
    top: i32,
    width: usize,
    cells: Vec<f32>,
}

/// Coverage is painted in this many steps. At 2× the eye cannot tell 16 steps from 256, and few
/// steps keep the picture to a few colours, which lets it be stored as an indexed PNG (a third
/// of the bytes).
const COVERAGE_STEPS: f32 = 16.0;

impl Coverage {
    fn of(font: &FontRef<'static>, glyphs: &[Glyph], origin: Point, strikes: &[f32]) -> Coverage {
        let outlines: Vec<_> = strikes
            .iter()
            .flat_map(|dx| {
                glyphs.iter().filter_map(move |g| {
                    let mut glyph = g.clone();
                    glyph.position = glyph.position + origin + point(*dx, 0.0);
                    font.outline_glyph(glyph)
                })
            })
            .collect();
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for o in &outlines {
            let b = o.px_bounds();
            x0 = x0.min(b.min.x as i32);
            y0 = y0.min(b.min.y as i32);
            x1 = x1.max(b.max.x as i32);
            y1 = y1.max(b.max.y as i32);
        }
        if outlines.is_empty() || x1 <= x0 || y1 <= y0 {
            return Coverage {
                left: 0,
                top: 0,
                width: 0,
                cells: Vec::new(),
            };
        }
        let width = (x1 - x0) as usize;
        let mut cells = vec![0.0f32; width * (y1 - y0) as usize];
        for o in &outlines {
            let b = o.px_bounds();
            let (bx, by) = (
                (b.min.x as i32 - x0) as usize,
                (b.min.y as i32 - y0) as usize,
            );
            o.draw(|gx, gy, c| {
                let i = (by + gy as usize) * width + bx + gx as usize;
                if let Some(cell) = cells.get_mut(i) {
                    *cell += c;
                }
            });
        }
        Coverage {
            left: x0,
            top: y0,
            width,
            cells,
        }
    }

    /// The coverage of a stroke `half_width` device pixels either side of the polyline through
    /// `points` (device pixels), with round ends and joins: a lone point gives a disc. Each pixel
    /// takes the most any segment covers it, so joins are painted once. Clipped to `size`.
    fn of_stroke(points: &[(f64, f64)], half_width: f64, size: (u32, u32)) -> Coverage {
        let empty = Coverage {
            left: 0,
            top: 0,
            width: 0,
            cells: Vec::new(),
        };
        if points.is_empty() || half_width <= 0.0 {
            return empty;
        }
        let reach = half_width + 1.0;
        let clip_x = |v: f64| (v.floor() as i64).clamp(0, i64::from(size.0)) as i32;
        let clip_y = |v: f64| (v.floor() as i64).clamp(0, i64::from(size.1)) as i32;
        let (min_x, max_x, min_y, max_y) = points.iter().fold(
            (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        let (x0, x1) = (clip_x(min_x - reach), clip_x(max_x + reach) + 1);
        let (y0, y1) = (clip_y(min_y - reach), clip_y(max_y + reach) + 1);
        let (x1, y1) = (x1.min(size.0 as i32), y1.min(size.1 as i32));
        if x1 <= x0 || y1 <= y0 {
            return empty;
        }
        let width = (x1 - x0) as usize;
        let mut cells = vec![0.0f32; width * (y1 - y0) as usize];
        let segments: Vec<((f64, f64), (f64, f64))> = if points.len() == 1 {
            vec![(points[0], points[0])]
        } else {
            points.windows(2).map(|p| (p[0], p[1])).collect()
        };
        for (a, b) in segments {
            let sx0 = clip_x(a.0.min(b.0) - reach).max(x0);
            let sx1 = (clip_x(a.0.max(b.0) + reach) + 1).min(x1);
            let sy0 = clip_y(a.1.min(b.1) - reach).max(y0);
            let sy1 = (clip_y(a.1.max(b.1) + reach) + 1).min(y1);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let length2 = dx * dx + dy * dy;
            for py in sy0..sy1 {
                for px in sx0..sx1 {
                    // Distance from the pixel's centre to the segment.
                    let (cx, cy) = (f64::from(px) + 0.5, f64::from(py) + 0.5);
                    let t = if length2 > 0.0 {
                        (((cx - a.0) * dx + (cy - a.1) * dy) / length2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let (nx, ny) = (a.0 + t * dx - cx, a.1 + t * dy - cy);
                    let d = (nx * nx + ny * ny).sqrt();
                    let c = (half_width + 0.5 - d).clamp(0.0, 1.0) as f32;
                    let i = (py - y0) as usize * width + (px - x0) as usize;
                    if c > cells[i] {
                        cells[i] = c;
                    }
                }
            }
        }
        Coverage {
            left: x0,
            top: y0,
            width,
            cells,
        }
    }

    /// The pixels to paint, with their opacity in `COVERAGE_STEPS` steps.
    fn pixels(&self) -> impl Iterator<Item = ((i32, i32), f64)> + '_ {
        self.cells.iter().enumerate().filter_map(|(i, &c)| {
            let step = (c.clamp(0.0, 1.0) * COVERAGE_STEPS).round();
            (step > 0.0).then(|| {
                let pixel = (
                    self.left + (i % self.width) as i32,
                    self.top + (i / self.width) as i32,
                );
                (pixel, f64::from(step / COVERAGE_STEPS))
            })
        })
    }
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
                Op::Line {
                    points,
                    width,
                    color,
                } => {
                    let points: Vec<(i32, i32)> = points
                        .iter()
                        .map(|(x, y)| (x.round() as i32, y.round() as i32))
                        .collect();
                    let stroke = width.round().max(1.0) as u32;
                    area.draw(&PathElement::new(points, color.stroke_width(stroke)))
                        .map_err(draw_error)?;
                }
                Op::Dot {
                    x,
                    y,
                    radius,
                    color,
                } => {
                    let center = (x.round() as i32, y.round() as i32);
                    let r = radius.round().max(1.0) as i32;
                    area.draw(&Circle::new(center, r, color.filled()))
                        .map_err(draw_error)?;
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

/// Encodes an 8-bit RGB buffer as a PNG: IHDR, PLTE when the picture has at most 256 colours (then
/// one byte a pixel), pHYs (144 dpi, so viewers that read it show the 1× size), one zlib-compressed
/// IDAT with no row filter (flat colours and repeated rows compress best that way), IEND.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let stride = width as usize * 3;
    debug_assert_eq!(rgb.len(), stride * height as usize);
    let indexed = palette(rgb);
    let mut raw =
        Vec::with_capacity(rgb.len() / if indexed.is_some() { 3 } else { 1 } + height as usize);
    match &indexed {
        Some((_, indices)) => {
            for row in indices.chunks_exact(width as usize) {
                raw.push(0);
                raw.extend_from_slice(row);
            }
        }
        None => {
            for row in rgb.chunks_exact(stride) {
                raw.push(0);
                raw.extend_from_slice(row);
            }
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(raw.len() / 16),
        flate2::Compression::new(6),
    );
    let idat = z
        .write_all(&raw)
        .and_then(|()| z.finish())
        .map_err(|err| draw_error(format!("PNG compression failed: {err}")))?;

    let mut png = Vec::with_capacity(idat.len() + 1024);
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // 8 bits, indexed (3) or truecolour (2), deflate, adaptive filters, no interlace.
    let colour_type = if indexed.is_some() { 3 } else { 2 };
    ihdr.extend_from_slice(&[8, colour_type, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    if let Some((colours, _)) = &indexed {
        chunk(&mut png, b"PLTE", &colours.concat());
    }
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

/// The picture's colours and each pixel's index among them, when there are at most 256.
fn palette(rgb: &[u8]) -> Option<(Vec<[u8; 3]>, Vec<u8>)> {
    let mut colours: Vec<[u8; 3]> = Vec::new();
    let mut lookup: HashMap<[u8; 3], u8> = HashMap::new();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    // Most pixels repeat their left neighbour: check that before the map.
    let mut last: Option<([u8; 3], u8)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        let index = match last {
            Some((lc, li)) if lc == c => li,
            _ => match lookup.get(&c) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(colours.len()).ok()?;
                    colours.push(c);
                    lookup.insert(c, i);
                    i
                }
            },
        };
        last = Some((c, index));
        indices.push(index);
    }
    Some((colours, indices))
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
    use crate::chart::kit::style::{ACCENT, LABEL_SIZE};

    #[test]
    fn keep_tail_keeps_the_end() {
        let name = "/layer4/layer4.2/conv3/Conv_output_0";
        assert_eq!(keep_tail(name, LABEL_SIZE, 1000.0), name);
        for max in [60.0, 120.0, 150.0, 200.0] {
            let short = keep_tail(name, LABEL_SIZE, max);
            let tail = short.strip_prefix('…').unwrap();
            assert!(name.ends_with(tail), "{short}");
            assert!(text_width(&short, LABEL_SIZE) <= max, "{short}");
        }
        // A cut near a separator starts at the separator.
        assert_eq!(
            keep_tail(
                name,
                LABEL_SIZE,
                text_width("…4.2/conv3/Conv_output_0", LABEL_SIZE)
            ),
            "…/conv3/Conv_output_0"
        );
        // With no separator near, the cut keeps as much as fits.
        let word = "abcdefghijklmnopqrstuvwxyz0123456789";
        let short = keep_tail(word, LABEL_SIZE, 100.0);
        let kept = short.chars().count() - 1;
        let one_more = format!("…{}", &word[word.len() - kept - 1..]);
        assert!(text_width(&one_more, LABEL_SIZE) > 100.0);
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
    fn strokes_cover_their_width() {
        // A horizontal line 4 px wide along y = 10.3 from x = 5 to x = 25, in a 40 × 20 image.
        let c = Coverage::of_stroke(&[(5.0, 10.3), (25.0, 10.3)], 2.0, (40, 20));
        let at = |x: i32, y: i32| {
            c.pixels()
                .find(|&(p, _)| p == (x, y))
                .map_or(0.0, |(_, a)| a)
        };
        assert_eq!(at(15, 9), 1.0);
        assert_eq!(at(15, 10), 1.0);
        assert_eq!(at(15, 14), 0.0);
        assert!(at(15, 12) > 0.0 && at(15, 12) < 1.0, "anti-aliased edge");
        assert_eq!(at(2, 10), 0.0);
        // A disc on the corner is clipped, not a panic; one outside is nothing.
        let corner = Coverage::of_stroke(&[(0.0, 0.0)], 3.0, (40, 20));
        assert!(corner.pixels().all(|((x, y), _)| x >= 0 && y >= 0));
        assert!(corner.pixels().count() > 0);
        let outside = Coverage::of_stroke(&[(-50.0, -50.0)], 3.0, (40, 20));
        assert_eq!(outside.pixels().count(), 0);
    }

    #[test]
    fn lines_and_dots_render() {
        let mut scene = Scene::new(60, 40);
        scene.line(&[(5.0, 30.0), (30.0, 10.0), (55.0, 20.0)], 2.0, ACCENT);
        scene.dot(30.0, 10.0, 3.0, ACCENT);
        // Too few points or not finite: nothing.
        scene.line(&[(5.0, 5.0)], 2.0, ACCENT);
        scene.dot(f64::NAN, 5.0, 3.0, ACCENT);
        assert_eq!(scene.ops.len(), 2);
        let chart = render(&scene).unwrap();
        assert!(chart.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(chart.svg.contains("<polyline") && chart.svg.contains("<circle"));
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
        assert_eq!(png[25], 3, "one colour: indexed");
        assert_eq!(&png[37..41], b"PLTE");

        // More than 256 colours: truecolour.
        let rgb: Vec<u8> = (0..300u32)
            .flat_map(|i| [i as u8, (i >> 8) as u8, 7])
            .collect();
        let png = encode_png(&rgb, 300, 1).unwrap();
        assert_eq!(png[25], 2, "truecolour");
        assert_eq!(&png[37..41], b"pHYs");
    }
}
