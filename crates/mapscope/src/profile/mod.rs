//! The census as a pprof profile: gzipped `profile.proto`, what
//! `go tool pprof` reads (`-top`, `-traces`, `-http`, `-diff_base`).
//!
//! Every map is one sample with four values, in this order: `maps/count` (1),
//! `bytes/bytes`, `live_bytes/bytes`, `waste_bytes/bytes`; the default sample
//! type is `bytes`. A sample's stack is the map's owner path with the map's type
//! as the leaf, so a flame graph shows the root on top and the type at the
//! bottom of each tower. pprof's `Sample.location_id` lists the leaf first: the
//! type's location comes first, the owner path's root last.
//!
//! Frame names carry no addresses, so two censuses of the same program (two
//! cores, before and after) line up frame by frame under `-diff_base`. Frames
//! are deduplicated by name: one `Function` and one `Location` (with the same
//! id) per distinct text, wherever it appears. Maps with the same stack stay
//! separate samples; pprof sums them itself.
//!
//! The protobuf is written by hand (module `wire`): the message is small and
//! write-only here, and a hand encoder avoids `prost`, its build script and a
//! `protoc` toolchain for eight message types. Its layout follows the reader
//! vendored in Go (`cmd/vendor/github.com/google/pprof/profile/encode.go`):
//! `string_table[0]` is "", ids start at 1, location and value lists are
//! packed. One mapping, marked `has_functions`, owns every location: without
//! it pprof invents an unsymbolized mapping and tries to symbolize the
//! (already named) frames against a binary. Gzip is `flate2`, already a
//! dependency (zlib-rs backend).

mod wire;

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use thiserror::Error;

use wire::Message;

/// One map of the census, as the profile needs it.
#[derive(Debug, Clone, Copy)]
pub struct ProfileMap<'a> {
    /// The owner path's frames, root first: e.g. `["main.registry",
    /// ".byName[\"eu\"]", ".items"]` or `["goroutine main.scan", "m"]`; the
    /// census decides the text (no addresses in it).
    pub frames: &'a [String],
    /// The map's type, the leaf frame: `map[string]int` (or `map (type unknown)`).
    pub map_type: &'a str,
    pub bytes: u64,
    pub live_bytes: u64,
    pub waste_bytes: u64,
}

/// What the profile says about itself.
#[derive(Debug, Clone, Default)]
pub struct ProfileMeta {
    /// Free-text comments (program, Go version, core file…), shown by
    /// `go tool pprof` in its header.
    pub comment: Vec<String>,
    /// When the census was taken (the core's time), nanoseconds since the
    /// Unix epoch; 0 leaves it out.
    pub time_nanos: i64,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error("writing the pprof profile: {0}")]
    Io(#[from] std::io::Error),
}

/// The sample types, in value order: (type, unit).
pub const SAMPLE_TYPES: [(&str, &str); 4] = [
    ("maps", "count"),
    ("bytes", "bytes"),
    ("live_bytes", "bytes"),
    ("waste_bytes", "bytes"),
];

/// The sample type `go tool pprof` shows unless told otherwise.
pub const DEFAULT_SAMPLE_TYPE: &str = "bytes";

/// Encodes profile.proto and gzips it (what `go tool pprof` reads).
pub fn write_pprof(maps: &[ProfileMap<'_>], meta: &ProfileMeta, out: &mut dyn Write) -> Result<(), ProfileError> {
    let proto = encode(maps, meta);
    let mut gz = GzEncoder::new(out, Compression::default());
    gz.write_all(&proto)?;
    gz.finish()?.flush()?;
    Ok(())
}

/// The uncompressed protobuf bytes (for tests and for callers that gzip themselves).
pub fn encode(maps: &[ProfileMap<'_>], meta: &ProfileMeta) -> Vec<u8> {
    let mut strings = Strings::default();
    let mut frames = Frames::default();
    let mut profile = Message::new();

    // Profile.sample_type = 1
    for (ty, unit) in SAMPLE_TYPES {
        let mut vt = Message::new();
        vt.int64(1, strings.intern(ty));
        vt.int64(2, strings.intern(unit));
        profile.message(1, vt);
    }

    // Profile.sample = 2; the stack leaf first: type, then the owner path from
    // its innermost frame out to the root.
    for map in maps {
        let leaf = frames.id(map.map_type, &mut strings);
        let mut stack = Vec::with_capacity(map.frames.len() + 1);
        stack.push(leaf);
        for frame in map.frames.iter().rev() {
            stack.push(frames.id(frame, &mut strings));
        }
        let mut sample = Message::new();
        sample.packed_uint64(1, stack);
        sample.packed_int64(
            2,
            [
                1,
                saturate(map.bytes),
                saturate(map.live_bytes),
                saturate(map.waste_bytes),
            ],
        );
        profile.message(2, sample);
    }

    // Profile.mapping = 3: one mapping, already symbolized.
    let mut mapping = Message::new();
    mapping.uint64(1, MAPPING_ID);
    mapping.bool(7, true); // has_functions
    profile.message(3, mapping);

    // Profile.location = 4 and Profile.function = 5: one each per frame name,
    // sharing the id.
    for (index, &name) in frames.names.iter().enumerate() {
        let id = frame_id(index);
        let mut line = Message::new();
        line.uint64(1, id); // Line.function_id
        let mut location = Message::new();
        location.uint64(1, id);
        location.uint64(2, MAPPING_ID);
        location.message(4, line);
        profile.message(4, location);

        let mut function = Message::new();
        function.uint64(1, id);
        function.int64(2, name); // name
        function.int64(3, name); // system_name
        profile.message(5, function);
    }

    let comments: Vec<i64> = meta.comment.iter().map(|c| strings.intern(c)).collect();
    let default_sample_type = strings.intern(DEFAULT_SAMPLE_TYPE);

    // Profile.string_table = 6, then the scalars.
    for s in &strings.table {
        profile.string(6, s);
    }
    profile.int64(9, meta.time_nanos);
    profile.packed_int64(13, comments);
    profile.int64(14, default_sample_type);
    profile.into_bytes()
}

const MAPPING_ID: u64 = 1;

/// pprof values are int64; a census never comes near 2^63 bytes, but clamp
/// rather than wrap to a negative value.
fn saturate(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The id of the `index`th distinct frame (ids start at 1; 0 means "none").
fn frame_id(index: usize) -> u64 {
    (index as u64).saturating_add(1)
}

/// The string table: index 0 is "", each string once.
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Default for Strings {
    fn default() -> Self {
        Self {
            table: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }
}

impl Strings {
    fn intern(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = i64::try_from(self.table.len()).unwrap_or(i64::MAX);
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// Distinct frame names, in first-seen order, as string-table indices.
#[derive(Default)]
struct Frames {
    names: Vec<i64>,
    ids: HashMap<i64, u64>,
}

impl Frames {
    /// The location (and function) id of `name`, allocated on first sight.
    fn id(&mut self, name: &str, strings: &mut Strings) -> u64 {
        let s = strings.intern(name);
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = frame_id(self.names.len());
        self.names.push(s);
        self.ids.insert(s, id);
        id
    }
}
