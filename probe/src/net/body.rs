//! Reading a response body under a deadline and a size cap, decompressing
//! gzip and deflate when the request asked for it, so the cap counts the
//! decompressed size and a zip bomb is stopped early.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http_body_util::BodyExt;
use hyper::HeaderMap;
use hyper::body::{Body, Incoming};
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use scenarios::wire::ErrorKind;

use super::failure::{Deadline, NetFailure, chain};

/// How the body on the wire is to be turned into the body reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

impl Encoding {
    /// Decode only when the request's `Accept-Encoding` offered the
    /// response's `Content-Encoding`; otherwise the bytes are kept as sent.
    pub(crate) fn of(request: &[(String, String)], response: &HeaderMap) -> Self {
        let Some(coding) = response.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()) else {
            return Encoding::Identity;
        };
        let wanted = match coding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Encoding::Gzip,
            "deflate" => Encoding::Deflate,
            _ => return Encoding::Identity,
        };
        let token = if wanted == Encoding::Gzip {
            "gzip"
        } else {
            "deflate"
        };
        let accepted = request
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(ACCEPT_ENCODING.as_str()))
            .flat_map(|(_, value)| value.split(','))
            .any(|item| {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim();
                let refused =
                    parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                !refused && (coding.eq_ignore_ascii_case(token) || coding == "*")
            });
        if accepted { wanted } else { Encoding::Identity }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
}

/// Collects at most `max` bytes and remembers whether more were offered.
struct Capped {
    buf: Vec<u8>,
    max: u64,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.max {
            self.over = true;
            return Err(io::Error::other("response body too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Sink {
    Plain(Capped),
    Gzip(MultiGzDecoder<Capped>),
    Zlib(ZlibDecoder<Capped>),
    RawDeflate(DeflateDecoder<Capped>),
}

impl Sink {
    /// `first` is the body's first chunk: it tells zlib from raw deflate.
    fn new(encoding: Encoding, max: u64, first: &[u8]) -> Self {
        let capped = Capped {
            buf: Vec::new(),
            max,
            over: false,
        };
        match encoding {
            Encoding::Identity => Sink::Plain(capped),
            Encoding::Gzip => Sink::Gzip(MultiGzDecoder::new(capped)),
            // `deflate` is zlib by the RFC, but some servers send raw deflate.
            Encoding::Deflate if looks_like_zlib(first) => Sink::Zlib(ZlibDecoder::new(capped)),
            Encoding::Deflate => Sink::RawDeflate(DeflateDecoder::new(capped)),
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(data),
            Sink::Gzip(w) => w.write_all(data),
            Sink::Zlib(w) => w.write_all(data),
            Sink::RawDeflate(w) => w.write_all(data),
        }
    }

    fn over(&self) -> bool {
        match self {
            Sink::Plain(w) => w.over,
            Sink::Gzip(w) => w.get_ref().over,
            Sink::Zlib(w) => w.get_ref().over,
            Sink::RawDeflate(w) => w.get_ref().over,
        }
    }

    fn finish(self) -> io::Result<Vec<u8>> {
        let capped = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Zlib(w) => w.finish()?,
            Sink::RawDeflate(w) => w.finish()?,
        };
        Ok(capped.buf)
    }
}

/// A zlib header: compression method 8 and a check sum divisible by 31.
fn looks_like_zlib(first: &[u8]) -> bool {
    match first {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => true,
    }
}

/// Reads the whole body of a response. A body whose announced length is
/// over the cap fails before a byte is read (hyper announces 0 for the
/// response to HEAD, whatever its `Content-Length` says).
///
/// # Errors
/// `BodyTooLarge` past `max` bytes (decompressed, when decoding),
/// `Timeout` at the deadline, `Io` when the connection fails mid-body,
/// `Protocol` for a malformed body or compressed stream.
pub(crate) async fn read_body(
    mut body: Incoming,
    encoding: Encoding,
    max: u64,
    deadline: Deadline,
) -> Result<Bytes, NetFailure> {
    let too_large = || {
        NetFailure::new(
            ErrorKind::BodyTooLarge,
            format!("response body exceeds {max} bytes"),
        )
    };
    if Body::size_hint(&body).lower() > max {
        return Err(too_large());
    }
    let mut sink: Option<Sink> = None;
    let mut on_wire: u64 = 0;
    while let Some(frame) = deadline
        .bound("reading the response body", body.frame())
        .await?
    {
        let frame = frame.map_err(|e| body_error(&e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        on_wire += data.len() as u64;
        if on_wire > max {
            return Err(too_large());
        }
        let sink = sink.get_or_insert_with(|| Sink::new(encoding, max, &data));
        if let Err(e) = sink.write(&data) {
            return Err(if sink.over() {
                too_large()
            } else {
                decode_error(encoding, &e)
            });
        }
    }
    let Some(sink) = sink else {
        return Ok(Bytes::new());
    };
    let over = sink.over();
    match sink.finish() {
        Ok(buf) => Ok(Bytes::from(buf)),
        Err(_) if over => Err(too_large()),
        Err(e) => Err(decode_error(encoding, &e)),
    }
}

fn decode_error(encoding: Encoding, e: &io::Error) -> NetFailure {
    NetFailure::new(
        ErrorKind::Protocol,
        format!("decoding the {} response body: {e}", encoding.name()),
    )
}

fn body_error(e: &hyper::Error) -> NetFailure {
    let kind = if e.is_parse() {
        ErrorKind::Protocol
    } else {
        ErrorKind::Io
    };
    NetFailure::new(kind, format!("reading the response body: {}", chain(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(encoding: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(CONTENT_ENCODING, encoding.parse().expect("header value"));
        map
    }

    fn accept(value: &str) -> Vec<(String, String)> {
        vec![("accept-encoding".to_owned(), value.to_owned())]
    }

    #[test]
    fn decodes_only_what_was_asked_for() {
        assert_eq!(
            Encoding::of(&accept("gzip, br"), &headers("gzip")),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::of(&accept("deflate"), &headers("deflate")),
            Encoding::Deflate
        );
        assert_eq!(
            Encoding::of(&accept("br"), &headers("gzip")),
            Encoding::Identity
        );
        assert_eq!(
            Encoding::of(&accept("gzip;q=0"), &headers("gzip")),
            Encoding::Identity
        );
        assert_eq!(Encoding::of(&[], &headers("gzip")), Encoding::Identity);
        assert_eq!(
            Encoding::of(&accept("gzip"), &HeaderMap::new()),
            Encoding::Identity
        );
    }

    fn compress(data: &[u8], zlib: bool) -> Vec<u8> {
        let level = flate2::Compression::fast();
        if zlib {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), level);
            enc.write_all(data).expect("compresses");
            enc.finish().expect("finishes")
        } else {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), level);
            enc.write_all(data).expect("compresses");
            enc.finish().expect("finishes")
        }
    }

    #[test]
    fn deflate_accepts_zlib_and_raw() {
        for zlib in [true, false] {
            let body = compress(b"hello deflate", zlib);
            let mut sink = Sink::new(Encoding::Deflate, 1024, &body);
            sink.write(&body).expect("decodes");
            assert_eq!(
                sink.finish().expect("finishes"),
                b"hello deflate",
                "zlib={zlib}"
            );
        }
    }

    #[test]
    fn cap_counts_decompressed_bytes() {
        let bomb = compress(&vec![0u8; 1 << 20], true);
        let mut sink = Sink::new(Encoding::Deflate, 64 * 1024, &bomb);
        assert!(sink.write(&bomb).is_err());
        assert!(sink.over());
    }
}
