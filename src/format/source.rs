//! The reader's input stream: any `Read` (a file, a pipe) wrapped with a byte
//! offset and a push-back buffer, so that resynchronisation can re-scan bytes
//! it already consumed without seeking. Also the bounded read helpers that
//! keep a lying length from allocating more than the data actually present.

use std::io::{self, Read};

/// Bytes requested from the inner reader per step while filling a large
/// buffer; the buffer grows as data arrives, never ahead of it by more than
/// this.
const MIN_GROW: usize = 64 << 10;

pub(crate) struct Source<R> {
    inner: R,
    /// Pushed-back bytes, served before `inner`; `pending[pos..]` is unread.
    pending: Vec<u8>,
    pos: usize,
    /// Offset in the stream of the next byte `read` returns.
    offset: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            pending: Vec::new(),
            pos: 0,
            offset: 0,
        }
    }

    /// Offset of the next byte to be read.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Puts `bytes`, which must be the bytes just read, back in front of the
    /// stream.
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let rest = self.pending.get(self.pos..).unwrap_or_default();
        let mut joined = Vec::with_capacity(bytes.len() + rest.len());
        joined.extend_from_slice(bytes);
        joined.extend_from_slice(rest);
        self.pending = joined;
        self.pos = 0;
        self.offset = self.offset.saturating_sub(bytes.len() as u64);
    }

    /// Reads until `buf` is full or the input ends; returns the number of
    /// bytes read (less than `buf.len()` only at end of input).
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let dst = buf.get_mut(filled..).unwrap_or_default();
            match self.read(dst) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    /// Replaces the contents of `buf` with the next `n` bytes of input, or
    /// with fewer if the input ends first. Capacity grows with the data
    /// read, so a lying `n` on a short input allocates little.
    pub(crate) fn read_up_to(&mut self, buf: &mut Vec<u8>, n: usize) -> io::Result<usize> {
        buf.clear();
        while buf.len() < n {
            let have = buf.len();
            let step = (n - have).min(have.max(MIN_GROW));
            if buf.capacity() < have + step {
                buf.reserve_exact(have + step - buf.len());
            }
            buf.resize(have + step, 0);
            let got = self.fill(buf.get_mut(have..).unwrap_or_default())?;
            buf.truncate(have + got);
            if got < step {
                break;
            }
        }
        Ok(buf.len())
    }

    /// Reads and drops the next `n` bytes; returns how many there were.
    pub(crate) fn discard(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut self.by_ref().take(n), &mut io::sink())
    }

    #[cfg(test)]
    pub(crate) fn pending_capacity(&self) -> usize {
        self.pending.capacity()
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.pos < self.pending.len() {
            let rest = self.pending.get(self.pos..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.pos += n;
            if self.pos >= self.pending.len() {
                self.pending = Vec::new();
                self.pos = 0;
            }
            n
        } else {
            self.inner.read(buf)?
        };
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns at most 3 bytes per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn unread_and_offsets() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut s = Source::new(Trickle(&data));
        let mut b = [0u8; 10];
        assert_eq!(s.fill(&mut b).unwrap(), 10);
        assert_eq!(s.offset(), 10);
        s.unread(&b[4..]);
        assert_eq!(s.offset(), 4);
        let mut c = [0u8; 3];
        s.fill(&mut c).unwrap();
        assert_eq!(c, [4, 5, 6]);
        // Unread while pushed-back bytes remain.
        s.unread(&c[1..]);
        assert_eq!(s.offset(), 5);
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, (5..100u8).collect::<Vec<_>>());
        assert_eq!(s.offset(), 100);
    }

    #[test]
    fn read_up_to_grows_with_the_data_not_the_claim() {
        let data = vec![7u8; 1000];
        let mut s = Source::new(&data[..]);
        let mut buf = Vec::new();
        assert_eq!(s.read_up_to(&mut buf, 16 << 20).unwrap(), 1000);
        assert!(buf.capacity() <= MIN_GROW, "capacity {}", buf.capacity());
        assert_eq!(buf, data);
    }

    #[test]
    fn read_up_to_reads_exactly_n_in_steps() {
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let mut s = Source::new(Trickle(&data));
        let mut buf = Vec::new();
        assert_eq!(s.read_up_to(&mut buf, 200_000).unwrap(), 200_000);
        assert_eq!(buf[..], data[..200_000]);
        assert!(buf.capacity() < 2 * 200_000);
        assert_eq!(s.discard(1 << 40).unwrap(), 100_000);
        assert_eq!(s.offset(), 300_000);
    }
}
