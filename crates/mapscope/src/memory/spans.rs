//! A sorted table of non-overlapping address ranges, each tagged with where its
//! bytes come from, and the one read loop every in-process back end shares.

use super::error::{checked_end, MemoryError};

#[derive(Clone, Debug)]
pub(crate) struct Span<T> {
    pub start: u64,
    /// Exclusive; always greater than `start`.
    pub end: u64,
    pub value: T,
}

#[derive(Clone, Debug)]
pub(crate) struct SpanTable<T> {
    spans: Vec<Span<T>>,
}

impl<T> Default for SpanTable<T> {
    fn default() -> Self {
        SpanTable { spans: Vec::new() }
    }
}

impl<T> SpanTable<T> {
    /// Sorts the spans and drops empty ones. Where spans overlap, the one that
    /// starts first keeps the overlap and the later one is clipped (or dropped),
    /// so malformed input still yields a consistent table.
    pub fn build(mut spans: Vec<Span<T>>, clip: impl Fn(&Span<T>, u64) -> Option<Span<T>>) -> Self {
        spans.retain(|s| s.end > s.start);
        spans.sort_by_key(|s| (s.start, s.end));
        let mut out: Vec<Span<T>> = Vec::with_capacity(spans.len());
        for s in spans {
            match out.last() {
                Some(prev) if s.start < prev.end => {
                    if s.end > prev.end {
                        let cut = prev.end;
                        if let Some(rest) = clip(&s, cut) {
                            out.push(rest);
                        }
                    }
                }
                _ => out.push(s),
            }
        }
        SpanTable { spans: out }
    }

    pub fn find(&self, addr: u64) -> Option<&Span<T>> {
        let i = self.spans.partition_point(|s| s.end <= addr);
        self.spans.get(i).filter(|s| s.start <= addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Span<T>> {
        self.spans.iter()
    }

    pub fn as_slice(&self) -> &[Span<T>] {
        &self.spans
    }

    /// True when `addr..addr+len` is covered without a gap by spans accepted by `ok`.
    pub fn covers(&self, addr: u64, len: u64, ok: impl Fn(&T) -> bool) -> bool {
        let Some(end) = addr.checked_add(len.max(1)) else {
            return false;
        };
        let mut cur = addr;
        // Each step moves `cur` to the end of a span, so this ends after at most
        // `spans.len()` iterations.
        while cur < end {
            match self.find(cur) {
                Some(s) if ok(&s.value) => cur = s.end,
                _ => return false,
            }
        }
        true
    }
}

/// Fills `buf` from consecutive spans; `fill(span, offset_in_span, out)` serves
/// one piece, `out` never extending past the span's end.
pub(crate) fn read_spans<T>(
    table: &SpanTable<T>,
    addr: u64,
    buf: &mut [u8],
    mut fill: impl FnMut(&Span<T>, u64, &mut [u8], u64) -> Result<(), MemoryError>,
) -> Result<(), MemoryError> {
    let end = checked_end(addr, buf.len())?;
    let mut cur = addr;
    let mut done = 0usize;
    while cur < end {
        let Some(span) = table.find(cur) else {
            return Err(MemoryError::unmapped(addr, buf.len(), cur));
        };
        let piece_end = span.end.min(end);
        // piece_end - cur <= end - cur <= buf.len(), so it fits in usize.
        let n = usize::try_from(piece_end - cur).unwrap_or(usize::MAX);
        let Some(out) = buf.get_mut(done..done.saturating_add(n)) else {
            return Err(MemoryError::unmapped(addr, buf.len(), cur));
        };
        fill(span, cur - span.start, out, cur)?;
        done += n;
        cur = piece_end;
    }
    Ok(())
}
