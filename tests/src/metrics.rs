//! Reading a Prometheus text scrape in tests: the value of a series, or the
//! sum over the series that match some labels.

/// One parsed scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Scrape {
    /// Parses the classic text format (comments skipped).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Self { samples }
    }

    /// Every sample of `name` whose labels include all of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    }

    /// The sum over matching samples; `None` when there is none.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = false;
        let total = self.matching(name, labels).map(|s| {
            found = true;
            s.value
        });
        let total: f64 = total.sum();
        found.then_some(total)
    }

    /// Whether any sample of `name` matches `labels`.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = match line.find('{') {
        Some(_) => {
            let close = line.rfind('}')?;
            (
                &line[..close + 1],
                line[close + 1..].split_whitespace().next()?,
            )
        }
        None => {
            let mut parts = line.split_whitespace();
            (parts.next()?, parts.next()?)
        }
    };
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.find('{') {
        Some(open) => (&head[..open], parse_labels(&head[open + 1..head.len() - 1])),
        None => (head, Vec::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').trim().to_string();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key, value));
        rest = &rest[end.min(rest.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_matching_series() {
        let s = Scrape::parse(
            "# TYPE x counter\nx_total{scenario=\"a\",region=\"eu\"} 2\nx_total{scenario=\"a\",region=\"us\"} 3\nx_total{scenario=\"b\",region=\"us\"} 5\nup 1\n",
        );
        assert_eq!(s.sum("x_total", &[("scenario", "a")]), Some(5.0));
        assert_eq!(s.sum("x_total", &[]), Some(10.0));
        assert_eq!(s.sum("up", &[]), Some(1.0));
        assert_eq!(s.sum("x_total", &[("scenario", "c")]), None);
        assert!(s.has("x_total", &[("region", "eu")]));
    }

    #[test]
    fn reads_escaped_label_values() {
        let s = Scrape::parse("m{a=\"x\\\"y\",b=\"z,}\"} 1.5\n");
        assert_eq!(
            s.samples[0].labels,
            vec![("a".into(), "x\"y".into()), ("b".into(), "z,}".into())]
        );
    }
}
