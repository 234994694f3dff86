//! The report fonts: DejaVu Sans (regular and bold), bundled with the
//! program (its licence is `assets/fonts/LICENSE-DejaVu.txt`), covers
//! Latin with accents, Greek and Cyrillic. Text in other scripts (Chinese,
//! Japanese, Korean, ...) is drawn with a system font that covers it, when
//! one is installed (Debian's fonts-noto-cjk, for one), and otherwise as a
//! visible placeholder, never silently left out. Fonts are embedded as
//! subsets of the glyphs used.

use crate::{Error, Result};
use printpdf::{FontId, ParsedFont, PdfDocument};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

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

/// Parsed faces, kept for the life of the process: parsing a font (a CJK
/// collection is tens of megabytes) costs more than laying out a report.
fn parsed(key: &str, load: impl FnOnce() -> Option<ParsedFont>) -> Option<Arc<ParsedFont>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<ParsedFont>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().expect("font cache").get(key) {
        return found.clone();
    }
    let font = load().map(Arc::new);
    cache
        .lock()
        .expect("font cache")
        .insert(key.to_string(), font.clone());
    font
}

/// One font face added to the document.
pub struct Face {
    pub id: FontId,
    font: Arc<ParsedFont>,
    units_per_em: f32,
    /// Glyph and advance (per point of size) of each character met: a
    /// table for the first 2,048 code points (Latin, Greek, Cyrillic,
    /// Hebrew, Arabic), a map for the rest.
    near: RefCell<Vec<Option<Option<(u16, f32)>>>>,
    far: RefCell<HashMap<char, Option<(u16, f32)>>>,
}

const NEAR: usize = 0x800;

impl Face {
    fn add(doc: &mut PdfDocument, font: Arc<ParsedFont>) -> Face {
        let units_per_em = f32::from(font.font_metrics.units_per_em.max(1));
        let id = doc.add_font(&font);
        Face {
            id,
            font,
            units_per_em,
            near: RefCell::new(vec![None; NEAR]),
            far: RefCell::new(HashMap::new()),
        }
    }

    fn bundled(doc: &mut PdfDocument, bytes: &'static [u8], name: &str) -> Result<Face> {
        let font = parsed(name, || ParsedFont::from_bytes(bytes, 0, &mut Vec::new()))
            .ok_or_else(|| Error::file(name, "is not a font this program can read"))?;
        Ok(Face::add(doc, font))
    }

    fn lookup(&self, c: char) -> Option<(u16, f32)> {
        self.font
            .lookup_glyph_index(c as u32)
            .filter(|g| *g != 0)
            .map(|g| {
                (
                    g,
                    f32::from(self.font.get_horizontal_advance(g)) / self.units_per_em,
                )
            })
    }

    fn glyph(&self, c: char) -> Option<(u16, f32)> {
        let i = c as usize;
        if i < NEAR {
            if let Some(known) = self.near.borrow()[i] {
                return known;
            }
            let found = self.lookup(c);
            self.near.borrow_mut()[i] = Some(found);
            return found;
        }
        *self
            .far
            .borrow_mut()
            .entry(c)
            .or_insert_with(|| self.lookup(c))
    }

    fn covers(&self, c: char) -> bool {
        c.is_whitespace() || self.glyph(c).is_some()
    }

    fn advance(&self, c: char, size: f32) -> f32 {
        let c = if c.is_whitespace() { ' ' } else { c };
        self.glyph(c).map_or(0.0, |(_, per_point)| per_point * size)
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
        let regular = Face::bundled(doc, REGULAR, "DejaVuSans.ttf")?;
        let bold = Face::bundled(doc, BOLD, "DejaVuSans-Bold.ttf")?;
        let mut missing: BTreeSet<char> = text
            .chars()
            .filter(|c| !c.is_control() && !regular.covers(*c))
            .collect();
        let mut fallbacks = Vec::new();
        for (path, index) in FALLBACKS {
            if missing.is_empty() {
                break;
            }
            let Some(font) = parsed(path, || {
                let bytes = std::fs::read(path).ok()?;
                let font = ParsedFont::from_bytes(&bytes, *index, &mut Vec::new());
                if font.is_none() {
                    tracing::warn!(path, "a system font could not be read");
                }
                font
            }) else {
                continue;
            };
            let face = Face::add(doc, font);
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
