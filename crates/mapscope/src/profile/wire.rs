//! The few protobuf wire-format primitives `profile.proto` needs: varints,
//! length-delimited fields (strings, nested messages, packed repeated
//! integers). Zero-valued scalars are left out, as proto3 and Go's encoder do.

/// Wire type 0: varint.
const VARINT: u64 = 0;
/// Wire type 2: length-delimited.
const LEN: u64 = 2;

/// One message being written; nested messages are built in their own
/// `Message` and appended with [`Message::message`].
#[derive(Default)]
pub(crate) struct Message {
    buf: Vec<u8>,
}

impl Message {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            // Truncation to the low 7 bits is the encoding.
            self.buf.push((v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u64) {
        self.varint((u64::from(field) << 3) | wire_type);
    }

    fn len_delimited(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LEN);
        // usize → u64 never truncates on the platforms Rust supports.
        self.varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// An optional `uint64` field; zero is the default and is not written.
    pub(crate) fn uint64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// An optional `int64` field (negative values take ten bytes, as in protobuf).
    pub(crate) fn int64(&mut self, field: u32, v: i64) {
        self.uint64(field, v as u64);
    }

    /// An optional `bool` field.
    pub(crate) fn bool(&mut self, field: u32, v: bool) {
        self.uint64(field, u64::from(v));
    }

    /// One element of a repeated `string` field: always written, even when
    /// empty (`string_table[0]` must be present and be "").
    pub(crate) fn string(&mut self, field: u32, s: &str) {
        self.len_delimited(field, s.as_bytes());
    }

    /// A nested message, always written (an empty message is still an element).
    pub(crate) fn message(&mut self, field: u32, m: Message) {
        self.len_delimited(field, &m.buf);
    }

    /// A packed repeated `uint64` field; nothing when empty.
    pub(crate) fn packed_uint64(&mut self, field: u32, vs: impl IntoIterator<Item = u64>) {
        let mut packed = Message::new();
        for v in vs {
            packed.varint(v);
        }
        if !packed.buf.is_empty() {
            self.len_delimited(field, &packed.buf);
        }
    }

    /// A packed repeated `int64` field; nothing when empty.
    pub(crate) fn packed_int64(&mut self, field: u32, vs: impl IntoIterator<Item = i64>) {
        self.packed_uint64(field, vs.into_iter().map(|v| v as u64));
    }
}
