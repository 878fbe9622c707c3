//! Resolving a core's address space, once, into spans that each say where
//! their bytes come from (see [`CoreSource`]) and into the region list.

use std::path::PathBuf;
use std::sync::Arc;

use super::corefile::{Attached, CoreSegment, CoreSource};
use super::notes::CoreNotes;
use super::region::{Backing, Permissions, Region};
use super::spans::{Span, SpanTable};

/// NT_FILE mappings as a span table (overlaps clipped, offsets kept right).
fn file_table(notes: &CoreNotes) -> SpanTable<(Arc<PathBuf>, u64)> {
    let spans = notes
        .files
        .iter()
        .map(|f| Span {
            start: f.start,
            end: f.end,
            value: (f.path.clone(), f.file_offset),
        })
        .collect();
    SpanTable::build(spans, |s, cut| {
        Some(Span {
            start: cut,
            end: s.end,
            value: (s.value.0.clone(), s.value.1.saturating_add(cut - s.start)),
        })
    })
}

/// Splits `start..end` by the spans of `table`: each piece with the span
/// covering it, or `None` for a gap. Bounded by the table's length.
fn split<T>(start: u64, end: u64, table: &SpanTable<T>) -> Vec<(u64, u64, Option<&Span<T>>)> {
    let spans = table.as_slice();
    let mut out = Vec::new();
    let mut cur = start;
    let mut i = spans.partition_point(|s| s.end <= start);
    while cur < end {
        match spans.get(i) {
            Some(s) if s.start < end => {
                if s.start > cur {
                    out.push((cur, s.start, None));
                    cur = s.start;
                }
                let e = s.end.min(end);
                out.push((cur, e, Some(s)));
                cur = e;
                i += 1;
            }
            _ => {
                out.push((cur, end, None));
                cur = end;
            }
        }
    }
    out
}

pub(super) fn build_table(
    segments: &[CoreSegment],
    notes: &CoreNotes,
    exe: Option<&Attached>,
) -> SpanTable<CoreSource> {
    let files = file_table(notes);
    let is_exe = |p: &Arc<PathBuf>| exe.map(|e| e.paths.iter().any(|x| x == p)).unwrap_or(false);
    // The image route only applies when NT_FILE says nothing about the executable.
    let image_ro: SpanTable<u64> = match exe.and_then(|e| Some((e, e.bias?))) {
        Some((e, bias)) if e.paths.is_empty() => SpanTable::build(
            e.image
                .segments()
                .iter()
                .filter(|s| !s.perms.write)
                .filter_map(|s| {
                    let start = s.vaddr.checked_add(bias)?;
                    Some(Span {
                        start,
                        end: start.checked_add(s.memsz)?,
                        value: s.vaddr,
                    })
                })
                .collect(),
            |s, cut| {
                Some(Span {
                    start: cut,
                    end: s.end,
                    value: s.value.saturating_add(cut - s.start),
                })
            },
        ),
        _ => SpanTable::default(),
    };

    // Bytes the core does not hold, for a range no segment stores: a file's,
    // the executable image's, or zero.
    let missing = |start: u64, end: u64, out: &mut Vec<Span<CoreSource>>, gaps_are_zero: bool| {
        for (s, e, f) in split(start, end, &files) {
            match f {
                Some(f) => {
                    let (path, off) = &f.value;
                    let file_offset = off.saturating_add(s - f.start);
                    let value = if is_exe(path) {
                        CoreSource::Executable { file_offset }
                    } else {
                        CoreSource::Unavailable { path: path.clone() }
                    };
                    out.push(Span {
                        start: s,
                        end: e,
                        value,
                    });
                }
                None => {
                    for (s2, e2, img) in split(s, e, &image_ro) {
                        match img {
                            Some(i) => out.push(Span {
                                start: s2,
                                end: e2,
                                value: CoreSource::ExecutableImage {
                                    vaddr: i.value.saturating_add(s2 - i.start),
                                },
                            }),
                            None if gaps_are_zero => out.push(Span {
                                start: s2,
                                end: e2,
                                value: CoreSource::Zero,
                            }),
                            None => {}
                        }
                    }
                }
            }
        }
    };

    let mut spans: Vec<Span<CoreSource>> = Vec::new();
    for seg in segments {
        if !seg.perms.read {
            spans.push(Span {
                start: seg.vaddr,
                end: seg.vaddr + seg.memsz,
                value: CoreSource::NoAccess,
            });
            continue;
        }
        let (v, a, f, m) = (
            seg.vaddr,
            seg.vaddr + seg.available,
            seg.vaddr + seg.filesz,
            seg.vaddr + seg.memsz,
        );
        spans.push(Span {
            start: v,
            end: a,
            value: CoreSource::Core {
                file_offset: seg.file_offset,
            },
        });
        spans.push(Span {
            start: a,
            end: f,
            value: CoreSource::Truncated {
                file_offset: seg.file_offset.saturating_add(seg.available),
            },
        });
        missing(f, m, &mut spans, true);
    }
    // Segments first: where malformed segments overlap, the first one wins.
    let seg_table = SpanTable::build(spans, clip_source);
    let mut all: Vec<Span<CoreSource>> = seg_table.iter().cloned().collect();
    // Ranges no segment mentions but a file mapping (or the executable image) does:
    // gcore leaves read-only file mappings out of the core entirely.
    let mut extra = Vec::new();
    let mut mentioned: Vec<(u64, u64)> = files.iter().map(|f| (f.start, f.end)).collect();
    mentioned.extend(image_ro.iter().map(|s| (s.start, s.end)));
    for (start, end) in mentioned {
        for (s, e, seg) in split(start, end, &seg_table) {
            if seg.is_none() {
                missing(s, e, &mut extra, false);
            }
        }
    }
    all.extend(extra);
    SpanTable::build(all, clip_source)
}

fn clip_source(s: &Span<CoreSource>, cut: u64) -> Option<Span<CoreSource>> {
    let d = cut - s.start;
    let value = match &s.value {
        CoreSource::Core { file_offset } => CoreSource::Core {
            file_offset: file_offset.saturating_add(d),
        },
        CoreSource::Truncated { file_offset } => CoreSource::Truncated {
            file_offset: file_offset.saturating_add(d),
        },
        CoreSource::Executable { file_offset } => CoreSource::Executable {
            file_offset: file_offset.saturating_add(d),
        },
        CoreSource::ExecutableImage { vaddr } => CoreSource::ExecutableImage {
            vaddr: vaddr.saturating_add(d),
        },
        other => other.clone(),
    };
    Some(Span {
        start: cut,
        end: s.end,
        value,
    })
}

pub(super) fn build_regions(segments: &[CoreSegment], notes: &CoreNotes, exe: Option<&Attached>) -> Vec<Region> {
    let files = file_table(notes);
    let backing_at = |addr: u64| match files.find(addr) {
        Some(f) => Backing::File {
            path: f.value.0.clone(),
            offset: f.value.1.saturating_add(addr - f.start),
        },
        None => Backing::Anonymous,
    };
    let mut regions: Vec<Region> = segments
        .iter()
        .map(|s| Region {
            start: s.vaddr,
            end: s.vaddr + s.memsz,
            perms: s.perms,
            backing: backing_at(s.vaddr),
        })
        .collect();
    regions = super::image::dedup_regions(regions);
    // File mappings the core left out entirely are still part of the address
    // space; their permissions come from the executable when it is the file.
    let seg_spans = SpanTable::build(
        regions
            .iter()
            .map(|r| Span {
                start: r.start,
                end: r.end,
                value: (),
            })
            .collect(),
        |_, _| None,
    );
    let mut extra = Vec::new();
    for f in files.iter() {
        for (s, e, seg) in split(f.start, f.end, &seg_spans) {
            if seg.is_some() {
                continue;
            }
            let perms = exe
                .filter(|x| x.paths.contains(&f.value.0))
                .and_then(|x| {
                    let v = s.checked_sub(x.bias?)?;
                    x.image
                        .segments()
                        .iter()
                        .find(|g| g.vaddr <= v && v - g.vaddr < g.memsz)
                        .map(|g| g.perms)
                })
                .unwrap_or(Permissions::READ_ONLY);
            extra.push(Region {
                start: s,
                end: e,
                perms,
                backing: Backing::File {
                    path: f.value.0.clone(),
                    offset: f.value.1.saturating_add(s - f.start),
                },
            });
        }
    }
    regions.extend(extra);
    super::image::dedup_regions(regions)
}
