//! A small page layout for reports on top of printpdf's page operations:
//! measured text wrapped to the column (a word longer than the column is
//! broken), headings, tables whose header row repeats on every page they
//! continue on, framed boxes that continue across pages, and a footer and
//! optional draft mark stamped on every page once the page count is known.
//!
//! Coordinates are points from the top of the page; they are turned into
//! PDF coordinates (from the bottom) when an operation is emitted.

use super::fonts::Fonts;
use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, PdfFontHandle, PdfPage, Point, Pt, Rect, Rgb,
    TextItem,
};

/// A4 portrait, in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
/// The margin on every side; the footer sits inside the bottom one.
pub const MARGIN: f32 = 50.0;

const BODY: f32 = 9.5;
const LEADING: f32 = 1.3;
const CELL_PAD: f32 = 3.0;

/// A colour as 0..1 RGB.
#[derive(Debug, Clone, Copy)]
pub struct Colour(pub f32, pub f32, pub f32);

pub const BLACK: Colour = Colour(0.1, 0.12, 0.16);
pub const GREY: Colour = Colour(0.38, 0.4, 0.45);
pub const RED: Colour = Colour(0.63, 0.11, 0.17);
pub const ACCENT: Colour = Colour(0.12, 0.36, 0.6);
const RULE: Colour = Colour(0.82, 0.84, 0.87);
const HEADER_FILL: Colour = Colour(0.93, 0.95, 0.97);

fn colour(c: Colour) -> Color {
    Color::Rgb(Rgb::new(c.0, c.1, c.2, None))
}

/// How a run of text looks.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub size: f32,
    pub bold: bool,
    pub colour: Colour,
}

impl Style {
    pub const BODY: Style = Style {
        size: BODY,
        bold: false,
        colour: BLACK,
    };
    pub const STRONG: Style = Style {
        size: BODY,
        bold: true,
        colour: BLACK,
    };
    pub const SMALL: Style = Style {
        size: 8.0,
        bold: false,
        colour: GREY,
    };
    pub const TITLE: Style = Style {
        size: 20.0,
        bold: true,
        colour: ACCENT,
    };
    pub const HEADING: Style = Style {
        size: 13.0,
        bold: true,
        colour: ACCENT,
    };

    pub fn with_colour(self, colour: Colour) -> Style {
        Style { colour, ..self }
    }

    fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

/// One column of a table: its title and its share of the width.
pub struct Column {
    pub title: String,
    pub share: f32,
}

pub fn col(title: &str, share: f32) -> Column {
    Column {
        title: title.to_string(),
        share,
    }
}

struct OpenBox {
    top: f32,
    colour: Colour,
}

/// The document being laid out: finished pages and the current one.
pub struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
    open_box: Option<OpenBox>,
    /// The font and fill colour the page's content stream has set, so
    /// they are set again only when they change.
    font: Option<(printpdf::FontId, f32)>,
    fill: Option<(f32, f32, f32)>,
    stroke: Option<(f32, f32, f32, f32)>,
    /// Inside a text object that several cells of a line share.
    in_text: bool,
    /// Where the text object's current line starts (moves are relative to it).
    line_start: (f32, f32),
}

impl<'f> Layout<'f> {
    pub fn new(fonts: &'f Fonts) -> Self {
        Layout {
            fonts,
            pages: Vec::new(),
            ops: Vec::new(),
            y: MARGIN,
            open_box: None,
            font: None,
            fill: None,
            stroke: None,
            in_text: false,
            line_start: (0.0, 0.0),
        }
    }

    fn bottom() -> f32 {
        PAGE_HEIGHT - MARGIN
    }

    pub fn width() -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN
    }

    /// The width `text` takes in `style`.
    pub fn measure(&self, text: &str, style: Style) -> f32 {
        text.chars()
            .map(|c| self.fonts.char_width(c, style.bold, style.size))
            .sum()
    }

    /// Starts a new page (closing the current box's part on this one).
    pub fn new_page(&mut self) {
        if let Some(b) = &self.open_box {
            let (top, colour) = (b.top, b.colour);
            self.frame(top, self.y, colour);
        }
        let done = std::mem::take(&mut self.ops);
        self.pages.push(done);
        self.font = None;
        self.fill = None;
        self.stroke = None;
        self.y = MARGIN;
        if let Some(b) = &mut self.open_box {
            b.top = MARGIN;
        }
    }

    /// Makes room for `height`, on a new page if this one is too full.
    pub fn need(&mut self, height: f32) {
        if self.y + height > Self::bottom() {
            self.new_page();
        }
    }

    pub fn space(&mut self, height: f32) {
        self.y += height;
    }

    fn set_fill(&mut self, c: Colour) {
        if self.fill != Some((c.0, c.1, c.2)) {
            self.fill = Some((c.0, c.1, c.2));
            self.ops.push(Op::SetFillColor { col: colour(c) });
        }
    }

    /// Draws `text` with its top-left corner at (`x`, `top`), font run by font run.
    fn text_at(&mut self, x: f32, top: f32, text: &str, style: Style) {
        let text = visual_order(text);
        let text = text.as_str();
        let baseline = PAGE_HEIGHT - top - style.size;
        let mut x = x;
        let own = !self.in_text;
        if own {
            self.begin_text();
        }
        self.set_fill(style.colour);
        for (face, run) in self.fonts.runs(text, style.bold) {
            let w = face.width(&run, style.size);
            if self.font.as_ref() != Some(&(face.id.clone(), style.size)) {
                self.font = Some((face.id.clone(), style.size));
                self.ops.push(Op::SetFont {
                    font: PdfFontHandle::External(face.id.clone()),
                    size: Pt(style.size),
                });
            }
            // A move relative to the line start: two numbers, where a
            // text matrix takes six.
            let (lx, ly) = self.line_start;
            self.line_start = (x, baseline);
            self.ops.extend([
                Op::SetTextCursor {
                    pos: Point {
                        x: Pt(x - lx),
                        y: Pt(baseline - ly),
                    },
                },
                Op::ShowText {
                    items: vec![TextItem::Text(run)],
                },
            ]);
            x += w;
        }
        if own {
            self.ops.push(Op::EndTextSection);
        }
    }

    fn begin_text(&mut self) {
        self.ops.push(Op::StartTextSection);
        self.line_start = (0.0, 0.0);
    }

    fn set_stroke(&mut self, c: Colour, width: f32) {
        if self.stroke != Some((c.0, c.1, c.2, width)) {
            self.stroke = Some((c.0, c.1, c.2, width));
            self.ops.extend([
                Op::SetOutlineColor { col: colour(c) },
                Op::SetOutlineThickness { pt: Pt(width) },
            ]);
        }
    }

    /// Lines of `text` no wider than `width`: words wrap, and a word wider
    /// than the whole width is broken; explicit line breaks are kept.
    pub fn wrap(&self, text: &str, width: f32, style: Style) -> Vec<String> {
        let space = self.measure(" ", style);
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut used = 0.0;
            for word in paragraph.split_whitespace() {
                let w = self.measure(word, style);
                if line.is_empty() && w <= width {
                    line.push_str(word);
                    used = w;
                    continue;
                }
                if !line.is_empty() && used + space + w <= width {
                    line.push(' ');
                    line.push_str(word);
                    used += space + w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                if w <= width {
                    line.push_str(word);
                    used = w;
                    continue;
                }
                // A word wider than the column: broken where it fills it.
                for c in word.chars() {
                    let cw = self.fonts.char_width(c, style.bold, style.size);
                    if used + cw > width && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        used = 0.0;
                    }
                    line.push(c);
                    used += cw;
                }
            }
            lines.push(line);
        }
        lines
    }

    /// A paragraph across the full width, indented by `indent`.
    pub fn paragraph(&mut self, text: &str, style: Style, indent: f32) {
        for line in self.wrap(text, Self::width() - indent, style) {
            self.need(style.line_height());
            let top = self.y;
            self.text_at(MARGIN + indent, top, &line, style);
            self.y += style.line_height();
        }
    }

    /// A section heading, kept with at least a few lines after it.
    pub fn heading(&mut self, text: &str) {
        let style = Style::HEADING;
        self.need(style.line_height() + 4.0 * Style::BODY.line_height());
        self.space(6.0);
        self.paragraph(text, style, 0.0);
        self.space(2.0);
    }

    /// "Label: value" pairs, labels in one column.
    pub fn fields(&mut self, pairs: &[(&str, String)]) {
        let label_width = pairs
            .iter()
            .map(|(l, _)| self.measure(l, Style::STRONG))
            .fold(0.0, f32::max)
            + 10.0;
        for (label, value) in pairs {
            let lines = self.wrap(value, Self::width() - label_width, Style::BODY);
            for (i, line) in lines.iter().enumerate() {
                self.need(Style::BODY.line_height());
                let top = self.y;
                if i == 0 {
                    self.text_at(MARGIN, top, label, Style::STRONG.with_colour(GREY));
                }
                self.text_at(MARGIN + label_width, top, line, Style::BODY);
                self.y += Style::BODY.line_height();
            }
        }
    }

    fn rule(&mut self, top: f32, from: f32, to: f32, c: Colour) {
        let y = PAGE_HEIGHT - top;
        self.set_stroke(c, 0.5);
        self.ops.extend([Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point {
                            x: Pt(from),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                    LinePoint {
                        p: Point {
                            x: Pt(to),
                            y: Pt(y),
                        },
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        }]);
    }

    fn fill(&mut self, top: f32, height: f32, c: Colour) {
        self.set_fill(c);
        self.ops.extend([Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(MARGIN),
                y: Pt(PAGE_HEIGHT - top - height),
                width: Pt(Self::width()),
                height: Pt(height),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        }]);
    }

    fn frame(&mut self, top: f32, bottom: f32, c: Colour) {
        self.set_stroke(c, 1.2);
        self.ops.extend([Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(MARGIN - 6.0),
                y: Pt(PAGE_HEIGHT - bottom),
                width: Pt(Self::width() + 12.0),
                height: Pt(bottom - top),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        }]);
    }

    /// Starts a framed box; it continues across pages until [`Self::end_box`].
    pub fn begin_box(&mut self, c: Colour) {
        self.need(4.0 * Style::BODY.line_height());
        self.space(4.0);
        self.open_box = Some(OpenBox {
            top: self.y - 4.0,
            colour: c,
        });
    }

    pub fn end_box(&mut self) {
        if let Some(b) = self.open_box.take() {
            self.space(4.0);
            self.frame(b.top, self.y, b.colour);
            self.space(6.0);
        }
    }

    fn header_row(&mut self, columns: &[Column], widths: &[f32]) {
        let style = Style::STRONG;
        let lines: Vec<Vec<String>> = columns
            .iter()
            .zip(widths)
            .map(|(c, w)| self.wrap(&c.title, w - 2.0 * CELL_PAD, style))
            .collect();
        let rows = lines.iter().map(Vec::len).max().unwrap_or(1);
        let height = rows as f32 * style.line_height() + 2.0 * CELL_PAD;
        let top = self.y;
        self.fill(top, height, HEADER_FILL);
        let mut x = MARGIN;
        for (cell, w) in lines.iter().zip(widths) {
            for (i, line) in cell.iter().enumerate() {
                self.text_at(
                    x + CELL_PAD,
                    top + CELL_PAD + i as f32 * style.line_height(),
                    line,
                    style,
                );
            }
            x += w;
        }
        self.y += height;
    }

    /// A table: the header row repeats on every page the table continues
    /// on; a row taller than what is left of a page continues on the next.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<String>]) {
        let total: f32 = columns.iter().map(|c| c.share).sum();
        let widths: Vec<f32> = columns
            .iter()
            .map(|c| Self::width() * c.share / total)
            .collect();
        let line = Style::BODY.line_height();
        self.need(3.0 * line + 2.0 * CELL_PAD);
        self.header_row(columns, &widths);
        for row in rows {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| self.wrap(text, w - 2.0 * CELL_PAD, Style::BODY))
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1);
            self.y += CELL_PAD;
            for i in 0..height {
                if self.y + line > Self::bottom() {
                    self.new_page();
                    self.header_row(columns, &widths);
                    self.y += CELL_PAD;
                }
                let mut x = MARGIN;
                let top = self.y;
                // One text object for the line's cells.
                self.begin_text();
                self.in_text = true;
                for (cell, w) in cells.iter().zip(&widths) {
                    if let Some(text) = cell.get(i) {
                        self.text_at(x + CELL_PAD, top, text, Style::BODY);
                    }
                    x += w;
                }
                self.in_text = false;
                self.ops.push(Op::EndTextSection);
                self.y += line;
            }
            self.y += CELL_PAD;
            let top = self.y;
            self.rule(top, MARGIN, MARGIN + Self::width(), RULE);
        }
        self.space(8.0);
    }

    /// The finished pages, each stamped with the footer (left text, and
    /// "Page n of N") and, if given, a draft mark across its top.
    pub fn finish(mut self, footer: &str, draft: Option<&str>) -> Vec<PdfPage> {
        if let Some(b) = self.open_box.take() {
            self.frame(b.top, self.y, b.colour);
        }
        let last = std::mem::take(&mut self.ops);
        self.pages.push(last);
        let total = self.pages.len();
        let pages = std::mem::take(&mut self.pages);
        pages
            .into_iter()
            .enumerate()
            .map(|(i, ops)| {
                self.ops = ops;
                // The footer is appended after the page's content: set
                // everything it uses afresh.
                self.font = None;
                self.fill = None;
                self.stroke = None;
                let footer_top = PAGE_HEIGHT - MARGIN + 14.0;
                self.rule(footer_top - 4.0, MARGIN, MARGIN + Self::width(), RULE);
                let number = format!("Page {} of {total}", i + 1);
                let width = self.measure(&number, Style::SMALL);
                let room = Self::width() - width - 12.0;
                let left = self
                    .wrap(footer, room, Style::SMALL)
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                self.text_at(MARGIN, footer_top, &left, Style::SMALL);
                self.text_at(
                    MARGIN + Self::width() - width,
                    footer_top,
                    &number,
                    Style::SMALL,
                );
                if let Some(mark) = draft {
                    self.draft_band(mark);
                }
                let ops = std::mem::take(&mut self.ops);
                PdfPage::new(Mm::from(Pt(PAGE_WIDTH)), Mm::from(Pt(PAGE_HEIGHT)), ops)
            })
            .collect()
    }

    /// The draft mark: a red band across the top margin with `mark` in it.
    /// (Text, not a rotated watermark, so the page still reads in order when
    /// copied or read aloud.)
    fn draft_band(&mut self, mark: &str) {
        let style = Style {
            size: 9.0,
            bold: true,
            colour: RED,
        };
        let top = MARGIN - 30.0;
        let height = style.line_height() + 8.0;
        self.fill(top, height, Colour(0.99, 0.91, 0.92));
        let line = self
            .wrap(mark, Self::width() - 12.0, style)
            .into_iter()
            .next()
            .unwrap_or_default();
        self.text_at(MARGIN + 6.0, top + 4.0, &line, style);
    }
}

fn is_rtl(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// `text` in the order it is drawn, left to right: each run of
/// right-to-left script (Hebrew, Arabic), with the spaces and punctuation
/// inside it, is reversed. Letters are not joined: Arabic shows its
/// isolated forms.
pub fn visual_order(text: &str) -> String {
    if !text.chars().any(is_rtl) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_rtl(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run reaches the last RTL character before any LTR letter.
        let mut end = i;
        let mut j = i;
        while j < chars.len() && (is_rtl(chars[j]) || !chars[j].is_alphanumeric()) {
            if is_rtl(chars[j]) {
                end = j;
            }
            j += 1;
        }
        out.extend(chars[i..=end].iter().rev());
        i = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::visual_order;

    #[test]
    fn right_to_left_runs_are_drawn_reversed() {
        assert_eq!(visual_order("Zoë"), "Zoë");
        assert_eq!(visual_order("אבג דה"), "הד גבא");
        assert_eq!(
            visual_order("Name: فاطمة الزهراء (P2)"),
            "Name: ءارهزلا ةمطاف (P2)"
        );
    }
}
