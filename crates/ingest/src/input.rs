//! A vendor file as a stream: copied once into the staging area (the raw archive, its sha256
//! and what its bytes are worked out on the way), then read as UTF-8 text in buffers, with each
//! record's line counted from the bytes. Nothing holds a whole file in memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use exhibits_core::pipeline::Source;

use crate::IngestError;

const CHUNK: usize = 1 << 20;

/// A file copied into the staging area, with what its bytes are.
pub(crate) struct RawCopy {
    /// The copy: what is parsed and then archived, so both are the same bytes.
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) encoding: &'static Encoding,
    /// Bytes of the byte-order mark to skip.
    bom: usize,
}

/// What the first pass learnt of the bytes.
#[derive(Default)]
struct Bytes {
    first: Vec<u8>,
    has_nul: bool,
    /// The offset and value of the first byte that is not UTF-8, if any.
    not_utf8: Option<(u64, u8)>,
}

/// Copies `source.path` to `to` in buffers, hashing it and checking its bytes, then chooses the
/// encoding: a BOM names it (UTF-8, UTF-16LE/BE); otherwise the source's `encoding`; unset,
/// UTF-8 when the bytes are valid UTF-8 and Windows-1252 when they are not (Latin-1's superset,
/// in which every byte is a character). A file that is not text gets one error.
pub(crate) fn copy_in(source: &Source, to: &Path, bad: &dyn Fn(String) -> IngestError) -> Result<RawCopy, IngestError> {
    use sha2::Digest;
    let read_err = |e| IngestError::Read { file: source.path.clone(), source: e };
    let write_err = |e| IngestError::Read { file: to.to_path_buf(), source: e };
    let mut input = File::open(&source.path).map_err(read_err)?;
    let mut out = std::io::BufWriter::with_capacity(CHUNK, File::create(to).map_err(write_err)?);
    let mut hash = sha2::Sha256::new();
    let mut seen = Bytes::default();
    // UTF-8 is checked across buffers: a character cut by a buffer's end is carried over.
    let mut buf = vec![0u8; CHUNK + 4];
    let (mut carry, mut offset) = (0usize, 0u64);
    loop {
        let n = input.read(&mut buf[carry..carry + CHUNK]).map_err(read_err)?;
        let chunk = &buf[carry..carry + n];
        hash.update(chunk);
        out.write_all(chunk).map_err(write_err)?;
        if seen.first.len() < 4 {
            seen.first.extend(chunk.iter().take(4 - seen.first.len()));
        }
        seen.has_nul |= chunk.contains(&0);
        let len = carry + n;
        let data = &buf[..len];
        let next_carry = match std::str::from_utf8(data) {
            _ if seen.not_utf8.is_some() => 0,
            Ok(_) => 0,
            Err(e) if e.error_len().is_none() && n > 0 => data.len() - e.valid_up_to(),
            Err(e) => {
                let at = e.valid_up_to();
                seen.not_utf8.get_or_insert((offset + at as u64, data[at]));
                0
            }
        };
        if n == 0 {
            break;
        }
        offset += (len - next_carry) as u64;
        buf.copy_within(len - next_carry..len, 0);
        carry = next_carry;
    }
    out.flush().map_err(write_err)?;
    let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let (encoding, bom) = choose_encoding(source, &seen, to, bad)?;
    Ok(RawCopy { path: to.to_path_buf(), sha256, encoding, bom })
}

fn choose_encoding(
    source: &Source,
    seen: &Bytes,
    copy: &Path,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(&'static Encoding, usize), IngestError> {
    if let Some((enc, bom)) = Encoding::for_bom(&seen.first) {
        let well_formed = if enc == UTF_8 { seen.not_utf8.is_none() } else { decodes(copy, enc, bom)? };
        if !well_formed {
            return Err(bad(format!(
                "the file starts with a {} byte-order mark but is not {} text",
                enc.name(),
                enc.name()
            )));
        }
        return Ok((enc, bom));
    }
    let declared = source.declared_encoding();
    if seen.has_nul && !declared.is_some_and(|e| e == UTF_16LE || e == UTF_16BE) {
        return Err(bad(
            "the file holds binary data (NUL bytes), not CSV text (UTF-16 text needs a byte-order mark or encoding = \"utf-16le\")"
                .into(),
        ));
    }
    match declared {
        Some(enc) if enc == UTF_8 => match seen.not_utf8 {
            None => Ok((enc, 0)),
            Some((at, byte)) => {
                let line = 1 + newlines_before(copy, at).map_err(io_err(copy))?;
                Err(bad(format!(
                    "the file is not UTF-8 text (the source says encoding = {:?}): byte 0x{byte:02X} at line {line} is not UTF-8; \
                     a Latin-1 or Windows-1252 file needs encoding = \"windows-1252\"",
                    source.encoding.as_deref().unwrap_or("utf-8"),
                )))
            }
        },
        Some(enc) if decodes(copy, enc, 0)? => Ok((enc, 0)),
        Some(enc) => Err(bad(format!("the file is not {} text (the source's encoding)", enc.name()))),
        None if seen.not_utf8.is_none() => Ok((UTF_8, 0)),
        None => Ok((WINDOWS_1252, 0)),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Read { file: path.to_path_buf(), source }
}

/// Whether the file at `path` (after `skip` bytes) is well-formed text in `enc`.
fn decodes(path: &Path, enc: &'static Encoding, skip: usize) -> Result<bool, IngestError> {
    let mut text = decoded(path, enc, skip, false).map_err(io_err(path))?;
    let mut sink = vec![0u8; CHUNK];
    loop {
        match text.read(&mut sink) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(false),
            Err(e) => return Err(io_err(path)(e)),
        }
    }
}

/// How many newlines come before byte `at` of the file at `path` (read in buffers).
pub(crate) fn newlines_before(path: &Path, at: u64) -> std::io::Result<u64> {
    let mut head = BufReader::with_capacity(CHUNK, File::open(path)?.take(at));
    let mut n = 0;
    loop {
        let buf = head.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        n += buf.iter().filter(|b| **b == b'\n').count() as u64;
        let len = buf.len();
        head.consume(len);
    }
}

impl RawCopy {
    /// The file's text as UTF-8, from its start (after the byte-order mark), buffered.
    pub(crate) fn text(&self) -> Result<Box<dyn BufRead>, IngestError> {
        decoded(&self.path, self.encoding, self.bom, true).map_err(io_err(&self.path))
    }

    /// The file's first `lines` lines, for telling its format.
    pub(crate) fn head(&self, lines: usize, bad: &dyn Fn(String) -> IngestError) -> Result<String, IngestError> {
        read_lines(&mut self.text()?, lines, bad)
    }

    /// Whether the text holds nothing but white space.
    pub(crate) fn is_blank(&self) -> Result<bool, IngestError> {
        let mut text = self.text()?;
        loop {
            let buf = text.fill_buf().map_err(io_err(&self.path))?;
            if buf.is_empty() {
                return Ok(true);
            }
            if buf.iter().any(|b| !b.is_ascii_whitespace()) {
                return Ok(false);
            }
            let n = buf.len();
            text.consume(n);
        }
    }
}

fn decoded(path: &Path, enc: &'static Encoding, skip: usize, replace: bool) -> std::io::Result<Box<dyn BufRead>> {
    let mut file = File::open(path)?;
    std::io::copy(&mut (&mut file).take(skip as u64), &mut std::io::sink())?;
    if enc == UTF_8 {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, file)));
    }
    let decoder = Decoded {
        inner: file,
        decoder: enc.new_decoder_without_bom_handling(),
        input: vec![0; 1 << 16],
        at: 0,
        end: 0,
        eof: false,
        out: Vec::with_capacity(3 << 16),
        pos: 0,
        replace,
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, decoder)))
}

/// Text in another encoding, read as UTF-8 in buffers (encoding_rs's streaming decoder).
struct Decoded {
    inner: File,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    at: usize,
    end: usize,
    eof: bool,
    out: Vec<u8>,
    pos: usize,
    /// Malformed input: replaced (U+FFFD) or an `InvalidData` error.
    replace: bool,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use encoding_rs::{CoderResult, DecoderResult};
        loop {
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.at == self.end {
                if self.eof {
                    return Ok(0);
                }
                self.end = self.inner.read(&mut self.input)?;
                self.at = 0;
                self.eof = self.end == 0;
            }
            self.out.resize(self.out.capacity().max(3 << 16), 0);
            self.pos = 0;
            let input = &self.input[self.at..self.end];
            let written = if self.replace {
                let (result, read, written, _) = self.decoder.decode_to_utf8(input, &mut self.out, self.eof);
                debug_assert!(matches!(result, CoderResult::InputEmpty | CoderResult::OutputFull));
                self.at += read;
                written
            } else {
                let (result, read, written) =
                    self.decoder.decode_to_utf8_without_replacement(input, &mut self.out, self.eof);
                if let DecoderResult::Malformed(..) = result {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed text"));
                }
                self.at += read;
                written
            };
            self.out.truncate(written);
        }
    }
}

/// Where the newlines of a stream are, as it is read: a record's line is worked out from its
/// byte offset (the csv crate's own line count is one short after CRLF line endings). Only the
/// newlines read ahead of the parser are kept.
#[derive(Default)]
struct Newlines {
    ahead: VecDeque<u64>,
    passed: u64,
    read: u64,
}

/// A stream that notes its newlines in a shared [`Newlines`].
struct Counted<R> {
    inner: R,
    newlines: Rc<RefCell<Newlines>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut nl = self.newlines.borrow_mut();
        let base = nl.read;
        nl.ahead.extend(buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| base + i as u64));
        nl.read += n as u64;
        Ok(n)
    }
}

/// A CSV stream whose records know their line in the file.
pub(crate) struct Csv<R> {
    reader: csv::Reader<Counted<R>>,
    newlines: Rc<RefCell<Newlines>>,
    lines_before: u64,
}

impl<R: Read> Csv<R> {
    /// A CSV reader over `text` (headers first), which follows `lines_before` lines of the file.
    pub(crate) fn new(text: R, lines_before: u64) -> Self {
        let newlines = Rc::new(RefCell::new(Newlines::default()));
        let counted = Counted { inner: text, newlines: newlines.clone() };
        let reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(counted);
        Csv { reader, newlines, lines_before }
    }

    /// The header's names (trimmed, without a byte-order mark).
    pub(crate) fn header(&mut self, bad: &dyn Fn(String) -> IngestError) -> Result<Vec<String>, IngestError> {
        let header = self.reader.headers().map_err(|e| bad(format!("cannot read the header: {e}")))?;
        Ok(crate::formats::header_names(header))
    }

    /// The line of the record that starts at `byte` (after a CRLF the csv crate's record starts
    /// at the `\n` that ended the previous line).
    fn line_of(&self, byte: u64) -> u64 {
        let mut nl = self.newlines.borrow_mut();
        while nl.ahead.front().is_some_and(|at| *at <= byte) {
            nl.ahead.pop_front();
            nl.passed += 1;
        }
        self.lines_before + 1 + nl.passed
    }

    /// Reads every record after the header and calls `each(line, record)` until it returns
    /// false; a CSV-level fault ends the file with one error.
    pub(crate) fn records(
        &mut self,
        bad: &dyn Fn(String) -> IngestError,
        mut each: impl FnMut(u64, &csv::StringRecord) -> Result<bool, IngestError>,
    ) -> Result<(), IngestError> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| self.line_of(p.byte()));
                    return Err(bad(format!("line {line}: the CSV cannot be read further: {e}")));
                }
            }
            let line = record.position().map_or(0, |p| self.line_of(p.byte()));
            if !each(line, &record)? {
                return Ok(());
            }
        }
    }
}

/// The first `lines` lines of `text` (a vendor file's preamble and header), consumed from it.
pub(crate) fn read_lines(
    text: &mut dyn BufRead,
    lines: usize,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<String, IngestError> {
    let mut head = String::new();
    for _ in 0..lines {
        if text.read_line(&mut head).map_err(|e| bad(format!("cannot read the file: {e}")))? == 0 {
            break;
        }
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_know_their_line_across_buffers_and_crlf() {
        // Long enough that the csv crate's buffer (8 KiB) is refilled many times.
        let mut text = String::from("a,b\r\n");
        for i in 0..5000 {
            text.push_str(&format!("{i},\"x\r\ny\"\r\n"));
        }
        let mut csv = Csv::new(text.as_bytes(), 0);
        let mut lines = Vec::new();
        csv.records(&|w| IngestError::BadFile { file: "t".into(), what: w }, |line, _| {
            lines.push(line);
            Ok(true)
        })
        .unwrap();
        // Each record spans two lines (a quoted CRLF inside): record i starts at line 2 + 2i.
        assert_eq!(lines.len(), 5000);
        assert!(lines.iter().enumerate().all(|(i, l)| *l == 2 + 2 * i as u64), "{:?}", &lines[..4]);
    }

    #[test]
    fn a_bom_names_the_encoding_else_the_source_else_utf8_or_windows_1252() {
        use exhibits_core::pipeline::SourceFormat;
        let dir = tempfile::tempdir().unwrap();
        let bad = |what: String| IngestError::BadFile { file: "t.csv".into(), what };
        let read = |src: &Source, b: &[u8]| {
            std::fs::write(&src.path, b).unwrap();
            let copy = copy_in(src, &dir.path().join("copy"), &bad).map_err(|e| e.to_string())?;
            let mut text = String::new();
            copy.text().unwrap().read_to_string(&mut text).unwrap();
            Ok::<_, String>((text, copy.encoding.name()))
        };
        let any = Source::new("t", SourceFormat::YahooClose, dir.path().join("t.csv"));
        assert_eq!(read(&any, b"Russell 2000\xae \x99 \x93x\x94"), Ok(("Russell 2000® ™ “x”".into(), "windows-1252")));
        assert_eq!(read(&any, "café".as_bytes()), Ok(("café".into(), "UTF-8")));
        assert_eq!(read(&any, b"\xef\xbb\xbfa"), Ok(("a".into(), "UTF-8")));
        assert_eq!(read(&any, b"\xff\xfea\x00\xe9\x00"), Ok(("aé".into(), "UTF-16LE")));
        assert!(read(&any, b"a\x00").unwrap_err().contains("binary data (NUL bytes)"));
        let declared = |label: &str| Source { encoding: Some(label.into()), ..any.clone() };
        assert_eq!(
            read(&declared("utf-8"), b"Date\n1,caf\xe9"),
            Err(
                "t.csv: the file is not UTF-8 text (the source says encoding = \"utf-8\"): byte 0xE9 at line 2 is not \
                 UTF-8; a Latin-1 or Windows-1252 file needs encoding = \"windows-1252\""
                    .into()
            )
        );
        assert_eq!(read(&declared("latin1"), b"caf\xe9"), Ok(("café".into(), "windows-1252")));
        assert_eq!(read(&declared("utf-16le"), b"a\x00"), Ok(("a".into(), "UTF-16LE")));
        // A character cut by the first pass's buffer is still UTF-8.
        let long = format!("{}é", "x".repeat(CHUNK - 1));
        assert_eq!(read(&any, long.as_bytes()).map(|(t, e)| (t.len(), e)), Ok((CHUNK + 1, "UTF-8")));
    }

    #[test]
    fn a_file_in_another_encoding_is_read_as_utf8_in_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        // Windows-1252 é (0xE9), long enough to span several input buffers.
        let bytes: Vec<u8> = std::iter::repeat_n(b"caf\xe9\n".as_slice(), 40_000).flatten().copied().collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut text = String::new();
        decoded(&path, WINDOWS_1252, 0, true).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "café\n".repeat(40_000));
        assert!(decodes(&path, WINDOWS_1252, 0).unwrap());
        std::fs::write(&path, b"a\x00b").unwrap();
        assert!(!decodes(&path, UTF_16LE, 0).unwrap(), "an odd number of bytes is not UTF-16");
    }
}
