//! W3C trace context: one trace id per run, a fresh span id per request, so
//! a failed run can be found in the target's own traces.

/// 16 random bytes as 32 lower-case hex digits.
pub fn new_trace_id() -> String {
    hex(&random::<16>())
}

/// A fresh span id: the request's client span in the run's trace, and the
/// parent the target's own server span names.
pub fn new_span_id() -> [u8; 8] {
    random::<8>()
}

/// `traceparent: 00-<trace id>-<span id>-01` (sampled, so the target keeps it).
pub fn traceparent(trace_id: &str, span_id: [u8; 8]) -> String {
    format!("00-{trace_id}-{}-01", hex(&span_id))
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not recoverable; a fixed id would still
    // be a valid (if unhelpful) trace id.
    let _ = getrandom::fill(&mut bytes);
    if bytes.iter().all(|b| *b == 0) {
        bytes[N - 1] = 1; // all-zero ids are invalid in the spec
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_w3c_shape() {
        let t = new_trace_id();
        assert_eq!(t.len(), 32);
        let span = new_span_id();
        let tp = traceparent(&t, span);
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts, vec!["00", t.as_str(), parts[2], "01"]);
        assert_eq!(parts[2], hex(&span));
        assert_ne!(new_trace_id(), t);
    }
}
