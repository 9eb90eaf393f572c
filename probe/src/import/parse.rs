//! A parser for the subset of the Hurl file format that `probe import`
//! converts: entries (request line, headers, sections, body) and their
//! responses (`HTTP` line, headers, `[Captures]`, `[Asserts]`, body).
//! It keeps every line's position so the mapping can say where a construct
//! without a scenario equivalent is. Comments are whole lines starting with
//! `#`, or the end of a line from a `#` after a space (outside strings).

use super::json_text::StringScan;
use super::report::{Pos, Problem};

/// One line of a section, or a header, as `key: value`.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub pos: Pos,
}

impl Line {
    /// `key: value`, with the value's position; `None` without a colon.
    pub fn key_value(&self) -> Option<(&str, &str, Pos)> {
        let colon = self.text.find(':')?;
        let key = self.text[..colon].trim();
        let rest = &self.text[colon + 1..];
        let skipped = rest.len() - rest.trim_start().len();
        let value = rest.trim();
        let pos = self.pos.plus(colon + 1 + skipped);
        Some((key, value, pos))
    }
}

/// A `[Name]` section and its lines.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub pos: Pos,
    pub lines: Vec<Line>,
}

/// A request or response body as written.
#[derive(Debug, Clone)]
pub enum Body {
    /// A JSON object or array, as its text.
    Json(String),
    /// A ```` ``` ```` block, with its language hint (`json`, …) if any.
    Multiline { lang: Option<String>, text: String },
    /// A `` `one line` `` string.
    Oneline(String),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub method_pos: Pos,
    pub url: String,
    pub url_pos: Pos,
    pub headers: Vec<Line>,
    pub sections: Vec<Section>,
    pub body: Option<(Body, Pos)>,
}

#[derive(Debug, Clone)]
pub struct Response {
    /// `HTTP/1.1`, `HTTP/2`, … when a version is asserted.
    pub version: Option<(String, Pos)>,
    /// `None` for `HTTP *`.
    pub status: Option<(u16, Pos)>,
    pub headers: Vec<Line>,
    pub sections: Vec<Section>,
    pub body: Option<(Body, Pos)>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub request: Request,
    pub response: Option<Response>,
}

/// Section names Hurl knows; any other `[…]` line starts a JSON array body.
const SECTIONS: &[&str] = &[
    "QueryStringParams",
    "Query",
    "FormParams",
    "Form",
    "MultipartFormData",
    "Multipart",
    "Cookies",
    "Options",
    "BasicAuth",
    "Captures",
    "Asserts",
];

/// Parses a Hurl file. Lines that fit no construct are reported and skipped.
pub fn parse(source: &str) -> (Vec<Entry>, Vec<Problem>) {
    let lines: Vec<&str> = source.lines().collect();
    let mut p = Parser {
        lines,
        at: 0,
        problems: Vec::new(),
    };
    let mut entries = Vec::new();
    while let Some((text, pos)) = p.next_content() {
        match request_line(text, pos) {
            Some((method, url, url_pos)) => {
                p.at += 1;
                let request = p.request(method, pos, url, url_pos);
                let response = p.response();
                entries.push(Entry { request, response });
            }
            None => {
                p.problems.push(Problem::new(
                    pos,
                    format!("unexpected `{}`", shorten(text)),
                    "a request line such as `GET https://example.com/`",
                ));
                p.at += 1;
            }
        }
    }
    (entries, p.problems)
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    at: usize,
    problems: Vec<Problem>,
}

/// What a content line is, seen from inside an entry.
enum Kind {
    Section(String),
    NextEntry,
    Http,
    Other,
}

impl<'a> Parser<'a> {
    /// The next line that is not blank or a comment, without consuming it.
    fn next_content(&mut self) -> Option<(&'a str, Pos)> {
        while let Some(line) = self.lines.get(self.at) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                self.at += 1;
                continue;
            }
            let indent = line.len() - trimmed.len();
            return Some((without_comment(trimmed), Pos::new(self.at + 1, indent + 1)));
        }
        None
    }

    fn kind(text: &str, pos: Pos) -> Kind {
        if let Some(name) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'))
            && SECTIONS.contains(&name)
        {
            return Kind::Section(name.to_string());
        }
        if text == "HTTP" || text.starts_with("HTTP ") || text.starts_with("HTTP/") {
            return Kind::Http;
        }
        if request_line(text, pos).is_some() {
            return Kind::NextEntry;
        }
        Kind::Other
    }

    fn request(&mut self, method: String, method_pos: Pos, url: String, url_pos: Pos) -> Request {
        let mut request = Request {
            method,
            method_pos,
            url,
            url_pos,
            headers: Vec::new(),
            sections: Vec::new(),
            body: None,
        };
        let (headers, sections, body) = self.parts(true);
        request.headers = headers;
        request.sections = sections;
        request.body = body;
        request
    }

    fn response(&mut self) -> Option<Response> {
        let (text, pos) = self.next_content()?;
        if !matches!(Self::kind(text, pos), Kind::Http) {
            return None;
        }
        self.at += 1;
        let mut words = text.split_whitespace();
        let http = words.next().unwrap_or("HTTP");
        let version = (http != "HTTP").then(|| (http.to_string(), pos));
        let status_text = words.next().unwrap_or("");
        let status_pos = pos.plus(text.find(status_text).unwrap_or(0));
        let status = match status_text.parse::<u16>() {
            Ok(code) => Some((code, status_pos)),
            Err(_) => {
                if status_text != "*" {
                    self.problems.push(Problem::new(
                        status_pos,
                        format!("invalid status `{status_text}`"),
                        "a status code such as `200`, or `*`",
                    ));
                }
                None
            }
        };
        let (headers, sections, body) = self.parts(false);
        Some(Response {
            version,
            status,
            headers,
            sections,
            body,
        })
    }

    /// Headers, then sections, then an optional body, up to the next
    /// `HTTP` line (in a request) or the next request line.
    #[allow(clippy::type_complexity)]
    fn parts(&mut self, in_request: bool) -> (Vec<Line>, Vec<Section>, Option<(Body, Pos)>) {
        let mut headers = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        let mut body = None;
        while let Some((text, pos)) = self.next_content() {
            match Self::kind(text, pos) {
                Kind::NextEntry => break,
                Kind::Http if in_request => break,
                Kind::Section(name) if body.is_none() => {
                    self.at += 1;
                    sections.push(Section {
                        name,
                        pos,
                        lines: Vec::new(),
                    });
                }
                _ if body.is_some() => {
                    self.problems.push(Problem::new(
                        pos,
                        format!("unexpected `{}` after the body", shorten(text)),
                        "the body to be the last part of a request or response",
                    ));
                    self.at += 1;
                }
                _ => {
                    let is_header = is_header(text);
                    if let Some(section) = sections.last_mut()
                        && !starts_body(text)
                    {
                        section.lines.push(Line {
                            text: text.to_string(),
                            pos,
                        });
                        self.at += 1;
                    } else if sections.is_empty() && is_header && !starts_body(text) {
                        headers.push(Line {
                            text: text.to_string(),
                            pos,
                        });
                        self.at += 1;
                    } else {
                        body = self.body(text, pos);
                    }
                }
            }
        }
        (headers, sections, body)
    }

    fn body(&mut self, text: &str, pos: Pos) -> Option<(Body, Pos)> {
        if let Some(rest) = text.strip_prefix("```") {
            let lang = rest.trim();
            if lang.ends_with("```") && lang.len() >= 3 {
                self.at += 1;
                let inner = &lang[..lang.len() - 3];
                return Some((Body::Oneline(inner.to_string()), pos));
            }
            let start = self.at;
            self.at += 1;
            let mut body = Vec::new();
            while let Some(line) = self.lines.get(self.at) {
                self.at += 1;
                if line.trim() == "```" {
                    let lang = (!lang.is_empty()).then(|| lang.to_string());
                    let mut text = body.join("\n");
                    text.push('\n');
                    return Some((Body::Multiline { lang, text }, pos));
                }
                body.push(*line);
            }
            self.at = self.lines.len();
            self.problems.push(Problem::new(
                Pos::new(start + 1, pos.col),
                "multiline string never closed",
                "a line with only ``` to end it",
            ));
            return None;
        }
        if let Some(rest) = text.strip_prefix('`') {
            self.at += 1;
            return match rest.strip_suffix('`') {
                Some(inner) => Some((Body::Oneline(inner.to_string()), pos)),
                None => {
                    self.problems.push(Problem::new(
                        pos,
                        "one-line string never closed",
                        "a closing ` on the same line",
                    ));
                    None
                }
            };
        }
        if text.starts_with('{') || text.starts_with('[') {
            let mut depth = 0i64;
            let mut strings = StringScan::default();
            let mut collected = Vec::new();
            while let Some(line) = self.lines.get(self.at) {
                self.at += 1;
                collected.push(*line);
                for c in line.chars() {
                    if strings.take(c) {
                        continue;
                    }
                    match c {
                        '{' | '[' => depth += 1,
                        '}' | ']' => depth -= 1,
                        _ => {}
                    }
                }
                if depth <= 0 {
                    return Some((Body::Json(collected.join("\n")), pos));
                }
            }
            self.problems.push(Problem::new(
                pos,
                "JSON body never closed",
                "balanced `{}` and `[]`",
            ));
            return None;
        }
        self.at += 1;
        let what = if text.starts_with("base64,") {
            "base64 body"
        } else if text.starts_with("file,") {
            "file body"
        } else if text.starts_with("hex,") {
            "hex body"
        } else if text.starts_with('<') {
            "XML body"
        } else {
            "body"
        };
        self.problems.push(Problem::new(
            pos,
            format!("{what} `{}` is not supported", shorten(text)),
            "a JSON body, a `[FormParams]` section, or a ``` or ` string",
        ));
        None
    }
}

/// The line up to a trailing `# comment`: a `#` after whitespace, outside
/// `"…"` and `` `…` `` strings. (Hurl ends a value at any unescaped `#`; a
/// `#` within a word, as in a URL's fragment, is kept here.)
fn without_comment(text: &str) -> &str {
    let mut strings = StringScan::default();
    let mut in_backticks = false;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        if c == '`' && !strings.inside() {
            in_backticks = !in_backticks;
        } else if !in_backticks && !strings.take(c) && c == '#' && previous.is_whitespace() {
            return text[..i].trim_end();
        }
        previous = c;
    }
    text.trim_end()
}

/// `METHOD URL`: the method is upper-case letters, the URL the rest.
fn request_line(text: &str, pos: Pos) -> Option<(String, String, Pos)> {
    let (method, rest) = text.split_once(char::is_whitespace)?;
    if method.is_empty() || method == "HTTP" || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let skipped = rest.len() - rest.trim_start().len();
    let url = rest.trim();
    if url.is_empty() {
        return None;
    }
    Some((
        method.to_string(),
        url.to_string(),
        pos.plus(method.len() + 1 + skipped),
    ))
}

fn is_header(text: &str) -> bool {
    text.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~{}".contains(&b))
    })
}

/// Whether a line opens a body. `{{name}}: value` is a key-value line
/// whose key is a template, not a JSON object.
fn starts_body(text: &str) -> bool {
    (text.starts_with('{') && !text.starts_with("{{"))
        || text.starts_with('`')
        || (text.starts_with('[') && !text.contains(':'))
}

/// The first 40 characters of a line, for messages.
pub fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}
