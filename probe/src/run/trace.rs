//! W3C trace context: one trace id per run, a fresh span id per request, so
//! a failed run can be found in the target's own traces.

/// 16 random bytes as 32 lower-case hex digits.
pub fn new_trace_id() -> String {
    hex(&random::<16>())
}

/// A fresh span id: the request's client span in the run's trace, and the
/// parent the target's own server span names.
pub fn new_span_id() -> [u8; 8] {
    // Span ids need to be unique within the trace, not unguessable: a
    // thread-local generator (seeded once from the OS) spares every
    // request a system call; the trace id still comes from the OS.
    let id = fastrand::u64(1..);
    id.to_be_bytes()
}

/// `traceparent: 00-<trace id>-<span id>-01` (sampled, so the target keeps it).
pub fn traceparent(trace_id: &str, span_id: [u8; 8]) -> String {
    let mut out = String::with_capacity(3 + trace_id.len() + 1 + 16 + 3);
    out.push_str("00-");
    out.push_str(trace_id);
    out.push('-');
    push_hex(&mut out, &span_id);
    out.push_str("-01");
    out
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
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Lower-case hex digits of `bytes`, without a formatter per byte: every
/// request carries one of these.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
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
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
