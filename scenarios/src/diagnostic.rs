//! One diagnostic shape for every error in a scenario file, rendered the way
//! rustc renders its own (`--> file.toml:LINE:COL`, the source line, carets).

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

/// An error found in a scenario file, pointing at the bytes it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// One line saying what is wrong: "unknown field `expcet`".
    pub title: String,
    /// Byte range in the file's source text.
    pub span: Range<usize>,
    /// What was expected, shown under the carets.
    pub label: String,
    /// A hint such as "did you mean `expect`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no help line.
    pub fn new(title: impl Into<String>, span: Range<usize>, label: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            span,
            label: label.into(),
            help: None,
        }
    }

    /// Adds a help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line when there is one.
    #[must_use]
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// How diagnostics are printed: colour only for a terminal without `NO_COLOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Colored,
}

impl Style {
    /// Colour when `is_terminal` and `NO_COLOR` is unset, as the convention asks.
    pub fn detect(is_terminal: bool) -> Self {
        if is_terminal && std::env::var_os("NO_COLOR").is_none() {
            Style::Colored
        } else {
            Style::Plain
        }
    }
}

/// Renders one diagnostic against the file it was found in. `path` is printed
/// as the user gave it.
pub fn render(diag: &Diagnostic, path: &str, source: &str, style: Style) -> String {
    let renderer = match style {
        Style::Plain => Renderer::plain(),
        Style::Colored => Renderer::styled(),
    };
    let span = clamp_span(source, &diag.span);
    let snippet = Snippet::source(source).path(path).annotation(
        AnnotationKind::Primary
            .span(span)
            .label(diag.label.as_str()),
    );
    let mut group = Level::ERROR
        .primary_title(diag.title.as_str())
        .element(snippet);
    if let Some(help) = &diag.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    renderer.render(&[group])
}

/// Renders every diagnostic of a file, separated by blank lines.
pub fn render_all(diags: &[Diagnostic], path: &str, source: &str, style: Style) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&render(d, path, source, style));
        out.push_str("\n\n");
    }
    out
}

/// Keeps a span inside the source and on character boundaries, so that a
/// slightly-off span can never make the renderer panic.
fn clamp_span(source: &str, span: &Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let mut end = span.end.clamp(start, source.len());
    while end < source.len() && !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "a = 1\nné = \"x\"\n";
        let off = src
            .find('=')
            .map(|_| src.rfind('=').unwrap_or(0))
            .unwrap_or(0);
        assert_eq!(line_col(src, off), (2, 4));
        assert_eq!(line_col(src, 0), (1, 1));
    }

    #[test]
    fn renders_rustc_style() {
        let src = "name = \"x\"\nexpcet = []\n";
        let d = Diagnostic::new("unknown field `expcet`", 11..17, "expected `expect`")
            .with_help("did you mean `expect`?");
        let out = render(&d, "x.toml", src, Style::Plain);
        assert!(out.contains("--> x.toml:2:1"), "{out}");
        assert!(out.contains("^^^^^^ expected `expect`"), "{out}");
        assert!(out.contains("= help: did you mean `expect`?"), "{out}");
    }
}
