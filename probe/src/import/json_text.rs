//! Scanning JSON as text (Hurl bodies may hold bare `{{templates}}`, so
//! they are not JSON until converted): whether a character is part of a
//! string literal, escapes included.

/// Where a scan stands with respect to string literals.
#[derive(Debug, Default)]
pub(super) struct StringScan {
    in_string: bool,
    escaped: bool,
}

impl StringScan {
    /// Whether the scan is inside a string literal now.
    pub(super) fn inside(&self) -> bool {
        self.in_string
    }

    /// Takes the next character; says whether it belongs to a string
    /// literal (its quotes included).
    pub(super) fn take(&mut self, c: char) -> bool {
        if self.in_string {
            match (self.escaped, c) {
                (true, _) => self.escaped = false,
                (false, '\\') => self.escaped = true,
                (false, '"') => self.in_string = false,
                _ => {}
            }
            true
        } else if c == '"' {
            self.in_string = true;
            true
        } else {
            false
        }
    }
}
