//! SliceMemory and the typed helpers every back end shares.

use mapscope::memory::{ByteOrder, Memory, MemoryError, MemoryExt, SliceMemory, MAX_READ_LEN};

fn mem() -> SliceMemory {
    SliceMemory::new()
        .with(0x1000, (0u8..=255).collect::<Vec<_>>())
        .unwrap()
        // Touches the first region: reads may cross between them.
        .with(0x1100, b"hello\0world".to_vec())
        .unwrap()
        .with(0x5000, vec![0xAA; 16])
        .unwrap()
}

#[test]
fn typed_reads_are_little_endian() {
    let m = mem();
    assert_eq!(m.read_u8(0x1001).unwrap(), 1);
    assert_eq!(m.read_u16(0x1001).unwrap(), 0x0201);
    assert_eq!(m.read_u32(0x1004).unwrap(), 0x07060504);
    assert_eq!(m.read_u64(0x1008).unwrap(), 0x0f0e0d0c0b0a0908);
    assert_eq!(m.read_ptr(0x1008).unwrap(), 0x0f0e0d0c0b0a0908);
}

#[test]
fn byte_order_and_pointer_size_are_respected() {
    let m = SliceMemory::new()
        .with(0x10, vec![1, 2, 3, 4, 5, 6, 7, 8])
        .unwrap()
        .with_byte_order(ByteOrder::Big)
        .with_pointer_size(4);
    assert_eq!(m.read_u32(0x10).unwrap(), 0x01020304);
    assert_eq!(m.read_ptr(0x10).unwrap(), 0x01020304);
    assert_eq!(m.read_u64(0x10).unwrap(), 0x0102030405060708);
}

#[test]
fn reads_cross_touching_regions_but_not_gaps() {
    let m = mem();
    let v = m.read_vec(0x10fe, 4).unwrap();
    assert_eq!(v, [0xfe, 0xff, b'h', b'e']);
    match m.read_vec(0x1108, 8) {
        Err(MemoryError::Unmapped { addr, len, at }) => {
            assert_eq!((addr, len, at), (0x1108, 8, 0x110b));
        }
        other => panic!("expected Unmapped, got {other:?}"),
    }
    assert!(m.is_mapped(0x10fe, 4));
    assert!(!m.is_mapped(0x1108, 8));
    assert!(!m.is_mapped(0x4fff, 2));
    assert!(m.is_mapped(0x5000, 16));
    assert!(!m.is_mapped(0x5000, 17));
    assert_eq!(m.regions().len(), 3);
    assert_eq!(m.region_at(0x1105).unwrap().start, 0x1100);
    assert!(m.region_at(0x2000).is_none());
}

#[test]
fn lengths_are_capped_before_allocating() {
    let m = mem();
    assert!(matches!(
        m.read_vec(0x1000, u64::MAX),
        Err(MemoryError::TooLarge { .. })
    ));
    assert!(matches!(
        m.read_vec(0x1000, MAX_READ_LEN as u64 + 1),
        Err(MemoryError::TooLarge { .. })
    ));
    assert!(matches!(
        m.read_vec_capped(0x1000, 300, 256),
        Err(MemoryError::TooLarge { cap: 256, .. })
    ));
    assert!(matches!(
        m.read_vec(u64::MAX - 2, 8),
        Err(MemoryError::AddressOverflow { .. })
    ));
    let mut b = [0u8; 8];
    assert!(matches!(
        m.read(u64::MAX - 2, &mut b),
        Err(MemoryError::AddressOverflow { .. })
    ));
    assert_eq!(m.read_vec(0x9999, 0).unwrap(), Vec::<u8>::new());
}

#[test]
fn cstr_and_available() {
    let m = mem();
    assert_eq!(m.read_cstr(0x1100, 100).unwrap(), b"hello");
    assert_eq!(m.read_cstr(0x1100, 5).unwrap(), b"hello");
    assert!(matches!(
        m.read_cstr(0x1100, 4),
        Err(MemoryError::Unterminated { max: 4, .. })
    ));
    // "world" runs into unmapped memory before any NUL.
    assert!(matches!(m.read_cstr(0x1106, 100), Err(MemoryError::Unmapped { .. })));
    assert_eq!(m.read_available(0x1106, 100).unwrap(), b"world");
    assert_eq!(m.read_available(0x5008, 100).unwrap(), vec![0xAA; 8]);
    assert!(m.read_available(0x6000, 10).is_err());
}

#[test]
fn overlapping_regions_are_rejected() {
    let mut m = mem();
    assert!(m.add(0x10f0, vec![0; 32]).is_err());
    assert!(m.add(u64::MAX - 4, vec![0; 32]).is_err());
    assert!(m.add(0x9000, Vec::new()).is_ok());
}

#[test]
fn usable_as_trait_object() {
    let m = mem();
    let d: &dyn Memory = &m;
    assert_eq!(d.read_u8(0x1002).unwrap(), 2);
    let boxed: Box<dyn Memory> = Box::new(mem());
    assert_eq!(boxed.read_u16(0x1000).unwrap(), 0x0100);
    let e: mapscope::Error = d.read_u8(0).unwrap_err().into();
    assert!(e.to_string().contains("not mapped"));
}
