//! The report fonts: DejaVu Sans (regular and bold), bundled with the
//! program (its licence is `assets/fonts/LICENSE-DejaVu.txt`), covers
//! Latin with accents, Greek and Cyrillic. Text in other scripts (Chinese,
//! Japanese, Korean, ...) is drawn with a system font that covers it, when
//! one is installed (Debian's fonts-noto-cjk, for one), and otherwise as a
//! visible placeholder, never silently left out. Fonts are embedded as
//! subsets of the glyphs used.

use crate::{Error, Result};
use printpdf::{FontId, ParsedFont, PdfDocument};
use std::collections::BTreeSet;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Drawn for a character no available font has.
pub const PLACEHOLDER: char = '□';

/// System fonts tried, in order, for characters DejaVu lacks: (path, face index).
const FALLBACKS: &[(&str, usize)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 0),
    (
        "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
        0,
    ),
    (
        "/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf",
        0,
    ),
    (
        "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
        0,
    ),
    ("/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        0,
    ),
    ("/usr/share/fonts/truetype/unifont/unifont.ttf", 0),
];

/// One font face added to the document.
pub struct Face {
    pub id: FontId,
    font: ParsedFont,
    units_per_em: f32,
}

impl Face {
    fn add(doc: &mut PdfDocument, bytes: &[u8], index: usize, name: &str) -> Result<Face> {
        let font = ParsedFont::from_bytes(bytes, index, &mut Vec::new())
            .ok_or_else(|| Error::file(name, "is not a font this program can read"))?;
        let units_per_em = f32::from(font.font_metrics.units_per_em.max(1));
        let id = doc.add_font(&font);
        Ok(Face {
            id,
            font,
            units_per_em,
        })
    }

    fn glyph(&self, c: char) -> Option<u16> {
        self.font.lookup_glyph_index(c as u32).filter(|g| *g != 0)
    }

    fn covers(&self, c: char) -> bool {
        c.is_whitespace() || self.glyph(c).is_some()
    }

    fn advance(&self, c: char, size: f32) -> f32 {
        let c = if c.is_whitespace() { ' ' } else { c };
        self.glyph(c).map_or(0.0, |g| {
            f32::from(self.font.get_horizontal_advance(g)) * size / self.units_per_em
        })
    }

    /// The width of `text` (all of it in this face) at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c, size)).sum()
    }
}

/// The faces of one document.
pub struct Fonts {
    regular: Face,
    bold: Face,
    fallbacks: Vec<Face>,
}

impl Fonts {
    /// Adds the bundled faces to `doc`, and the system fonts needed for
    /// whatever in `text` they lack.
    pub fn load(doc: &mut PdfDocument, text: &str) -> Result<Fonts> {
        let regular = Face::add(doc, REGULAR, 0, "DejaVuSans.ttf")?;
        let bold = Face::add(doc, BOLD, 0, "DejaVuSans-Bold.ttf")?;
        let mut missing: BTreeSet<char> = text
            .chars()
            .filter(|c| !c.is_control() && !regular.covers(*c))
            .collect();
        let mut fallbacks = Vec::new();
        for (path, index) in FALLBACKS {
            if missing.is_empty() {
                break;
            }
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let Ok(face) = Face::add(doc, &bytes, *index, path) else {
                tracing::warn!(path, "a system font could not be read");
                continue;
            };
            let before = missing.len();
            missing.retain(|c| !face.covers(*c));
            if missing.len() < before {
                fallbacks.push(face);
            }
        }
        if !missing.is_empty() {
            tracing::info!(
                count = missing.len(),
                "characters without a font are drawn as {PLACEHOLDER}"
            );
        }
        Ok(Fonts {
            regular,
            bold,
            fallbacks,
        })
    }

    pub fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }

    /// The face that draws `c`, and the character drawn (the placeholder
    /// when no face has it).
    fn pick(&self, c: char, bold: bool) -> (&Face, char) {
        let main = self.face(bold);
        if main.covers(c) {
            return (main, c);
        }
        match self.fallbacks.iter().find(|f| f.covers(c)) {
            Some(f) => (f, c),
            None => (main, PLACEHOLDER),
        }
    }

    pub fn char_width(&self, c: char, bold: bool, size: f32) -> f32 {
        let (face, c) = self.pick(c, bold);
        face.advance(c, size)
    }

    /// `text` cut into runs that one face draws.
    pub fn runs(&self, text: &str, bold: bool) -> Vec<(&Face, String)> {
        let mut runs: Vec<(&Face, String)> = Vec::new();
        for c in text.chars().filter(|c| !c.is_control()) {
            let (face, drawn) = self.pick(c, bold);
            match runs.last_mut() {
                Some((f, run)) if std::ptr::eq(*f, face) => run.push(drawn),
                _ => runs.push((face, drawn.to_string())),
            }
        }
        runs
    }
}
