//! The hash API's contracts: typed errors instead of panics, NaN reported
//! as random, placement helpers, and speed.

use std::borrow::Cow;
use std::time::Instant;

use mapscope::hash::placement::{classic_bucket, classic_seed, classic_tophash, swiss_h2, ProbeSeq};
use mapscope::hash::{
    Arch, DynamicValue, HashAlgorithm, HashError, HashOutcome, HashParams, HashVersion, KeyField, KeyHasher,
    KeyResolver, KeyType, NoIndirection,
};

fn aes_params(version: HashVersion) -> HashParams {
    let mut sched = [0u8; 128];
    for (i, b) in sched.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    HashParams::new(Arch::Amd64, version, HashAlgorithm::Aes { key_schedule: sched }).unwrap()
}

fn fallback_params(version: HashVersion) -> HashParams {
    let hashkey = [0x1234_5679, 0xabcd_ef01, 0x5555_aaab, 0x0f0f_0f0f];
    HashParams::new(Arch::Amd64, version, HashAlgorithm::Fallback { hashkey }).unwrap()
}

/// One string at a fixed address.
struct OneString(Vec<u8>);

impl KeyResolver for OneString {
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError> {
        if ptr == 0x1000 && len == self.0.len() as u64 {
            Ok(Cow::Borrowed(&self.0))
        } else {
            Err(HashError::Unresolved {
                what: "string",
                addr: ptr,
                len,
            })
        }
    }

    fn interface_value(&self, type_word: u64, _: u64, _: bool) -> Result<DynamicValue<'_>, HashError> {
        Err(HashError::Unhashable { type_word })
    }
}

fn string_key(len: usize) -> Vec<u8> {
    let mut k = 0x1000u64.to_le_bytes().to_vec();
    k.extend_from_slice(&(len as u64).to_le_bytes());
    k
}

#[test]
fn arm64_aes_and_fallback_are_both_supported() {
    let sched: [u8; 128] = std::array::from_fn(|i| i as u8);
    let aes = HashParams::new(
        Arch::Arm64,
        HashVersion::Go127,
        HashAlgorithm::Aes { key_schedule: sched },
    )
    .unwrap();
    assert!(aes.uses_aes());
    let amd = HashParams::new(
        Arch::Amd64,
        HashVersion::Go127,
        HashAlgorithm::Aes { key_schedule: sched },
    )
    .unwrap();
    // Same keys, different algorithm (tests/hash_vectors.rs checks both
    // against the runtimes).
    assert_ne!(aes.strhash(b"mapscope", 1), amd.strhash(b"mapscope", 1));
    let ok = HashParams::new(
        Arch::Arm64,
        HashVersion::Go127,
        HashAlgorithm::Fallback { hashkey: [1, 3, 5, 7] },
    );
    assert!(ok.is_ok());
}

#[test]
fn versions_and_key_material_are_checked() {
    assert!(matches!(
        HashVersion::for_go(1, 18),
        Err(HashError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        HashVersion::for_go(1, 28),
        Err(HashError::UnsupportedVersion { .. })
    ));
    assert_eq!(HashVersion::for_go(1, 20).unwrap(), HashVersion::Go119To122);
    assert_eq!(HashVersion::for_go(1, 24).unwrap(), HashVersion::Go123To126);
    assert!(matches!(
        HashAlgorithm::from_runtime(true, &[0; 127], &[]),
        Err(HashError::BadKeyMaterial { .. })
    ));
    assert!(matches!(
        HashAlgorithm::from_runtime(false, &[], &[1, 2, 3]),
        Err(HashError::BadKeyMaterial { .. })
    ));
    assert!(HashAlgorithm::from_runtime(false, &[], &[1, 2, 3, 4]).is_ok());
}

#[test]
fn nan_hashes_randomly_and_zeros_alike() {
    for p in [aes_params(HashVersion::Go127), fallback_params(HashVersion::Go119To122)] {
        assert_eq!(p.f64hash(f64::NAN, 7), HashOutcome::NanRandom);
        assert_eq!(p.f32hash(f32::NAN, 7), HashOutcome::NanRandom);
        assert_eq!(p.f64hash(0.0, 7), p.f64hash(-0.0, 7));
        assert_eq!(p.c128hash(1.0, f64::NAN, 7), HashOutcome::NanRandom);
        let t = KeyType::Struct {
            size: 16,
            fields: vec![
                KeyField::new("a", 0, KeyType::memory(8)),
                KeyField::new("f", 8, KeyType::Float64),
            ],
        };
        let h = KeyHasher::new(&p, &t).unwrap();
        let mut key = 5u64.to_le_bytes().to_vec();
        key.extend_from_slice(&f64::NAN.to_bits().to_le_bytes());
        assert_eq!(h.hash(&key, 1, &NoIndirection).unwrap(), HashOutcome::NanRandom);
    }
}

#[test]
fn malformed_inputs_give_errors_not_panics() {
    let p = aes_params(HashVersion::Go123To126);
    let overlapping = KeyType::Struct {
        size: 16,
        fields: vec![
            KeyField::new("a", 8, KeyType::memory(8)),
            KeyField::new("b", 4, KeyType::memory(4)),
        ],
    };
    assert!(matches!(
        KeyHasher::new(&p, &overlapping),
        Err(HashError::BadKeyType(_))
    ));
    let past_end = KeyType::Struct {
        size: 8,
        fields: vec![KeyField::new("s", 0, KeyType::String)],
    };
    assert!(matches!(KeyHasher::new(&p, &past_end), Err(HashError::BadKeyType(_))));
    let huge = KeyType::array(u64::MAX, KeyType::String);
    assert!(KeyHasher::new(&p, &huge).is_err());
    let mut deep = KeyType::String;
    for _ in 0..200 {
        deep = KeyType::array(1, deep);
    }
    assert!(KeyHasher::new(&p, &deep).is_err());

    for version in [HashVersion::Go119To122, HashVersion::Go127] {
        let p = aes_params(version);
        let h = KeyHasher::new(&p, &KeyType::String).unwrap();
        assert!(matches!(
            h.hash(&[0; 8], 0, &NoIndirection),
            Err(HashError::KeyTooShort { .. })
        ));
        assert!(matches!(
            h.hash(&string_key(3), 0, &NoIndirection),
            Err(HashError::Unresolved { .. })
        ));
        // A resolver that hands back fewer bytes than asked for.
        assert!(h.hash(&string_key(4), 0, &OneString(vec![1, 2])).is_err());
        let i = KeyHasher::new(&p, &KeyType::Interface { empty: true }).unwrap();
        let mut key = [0u8; 16];
        assert_eq!(
            i.hash(&key, 9, &NoIndirection).unwrap(),
            HashOutcome::Hash(9),
            "nil interface"
        );
        key[0] = 1;
        assert!(matches!(
            i.hash(&key, 9, &OneString(vec![])),
            Err(HashError::Unhashable { .. })
        ));
    }
}

/// An interface whose dynamic value is itself that interface, forever.
struct Cyclic;

impl KeyResolver for Cyclic {
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError> {
        Err(HashError::Unresolved {
            what: "string",
            addr: ptr,
            len,
        })
    }

    fn interface_value(&self, _: u64, _: u64, _: bool) -> Result<DynamicValue<'_>, HashError> {
        let mut v = 1u64.to_le_bytes().to_vec();
        v.extend_from_slice(&2u64.to_le_bytes());
        Ok(DynamicValue {
            key_type: Cow::Owned(KeyType::Interface { empty: true }),
            bytes: Cow::Owned(v),
        })
    }
}

#[test]
fn cyclic_interfaces_stop() {
    let p = fallback_params(HashVersion::Go127);
    let h = KeyHasher::new(&p, &KeyType::Interface { empty: true }).unwrap();
    let mut key = [0u8; 16];
    key[0] = 1;
    assert!(matches!(h.hash(&key, 0, &Cyclic), Err(HashError::TooComplex(_))));
}

#[test]
fn placement_from_a_hash() {
    let p = aes_params(HashVersion::Go123To126);
    let hash = p.strhash(b"hello", classic_seed(0xdead_beef));
    assert_eq!(classic_bucket(hash, 3).unwrap(), hash & 7);
    assert!(classic_tophash(hash) >= 5);
    assert!(swiss_h2(hash) < 0x80);
    assert_eq!(ProbeSeq::new(hash, 15).count(), 16);
}

/// `path` on a 1M-entry map hashes one key; it must take microseconds.
#[test]
fn hashing_one_key_takes_microseconds() {
    let data: Vec<u8> = (0..24u8).collect();
    let resolver = OneString(data.clone());
    let key = string_key(data.len());
    let n = 20_000u32;
    for (name, p) in [
        ("aes", aes_params(HashVersion::Go127)),
        ("fallback", fallback_params(HashVersion::Go127)),
    ] {
        let t0 = Instant::now();
        let h = KeyHasher::new(&p, &KeyType::String).unwrap();
        let setup = t0.elapsed();
        let t1 = Instant::now();
        let mut acc = 0u64;
        for seed in 0..u64::from(n) {
            acc ^= h.hash(&key, seed, &resolver).unwrap().value().unwrap();
        }
        let per_key = t1.elapsed() / n;
        let t2 = Instant::now();
        for seed in 0..u64::from(n) {
            acc ^= p.memhash64(seed, 7);
        }
        let per_word = t2.elapsed() / n;
        eprintln!("{name}: KeyHasher::new {setup:?}, 24-byte string key {per_key:?}, memhash64 {per_word:?} ({acc:x})");
        assert!(per_key.as_micros() < 100, "{name}: {per_key:?} per key");
    }
}
