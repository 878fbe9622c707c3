//! Every vector the Go runtime itself produced (fixtures/hashvec, one file
//! per toolchain, with and without AES) must be recomputed bit for bit.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mapscope::hash::{
    Arch, DynamicValue, HashAlgorithm, HashError, HashOutcome, HashParams, HashVersion, HasherKind, KeyField,
    KeyHasher, KeyResolver, KeyType,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct TypeDesc {
    kind: String,
    size: u64,
    #[serde(default)]
    fields: Vec<FieldDesc>,
    elem: Option<Box<TypeDesc>>,
    #[serde(default)]
    len: u64,
    #[serde(default)]
    empty: bool,
}

#[derive(Deserialize)]
struct FieldDesc {
    name: String,
    offset: u64,
    #[serde(rename = "type")]
    ty: TypeDesc,
}

#[derive(Deserialize)]
struct DynType {
    #[serde(rename = "type")]
    ty: TypeDesc,
    direct: bool,
}

#[derive(Deserialize, Clone)]
struct Region {
    addr: String,
    hex: String,
}

#[derive(Deserialize)]
struct Vector {
    #[serde(rename = "type")]
    ty: String,
    seed: String,
    key: String,
    #[serde(default)]
    mem: Vec<Region>,
    #[serde(default, rename = "dyn")]
    dynamic: BTreeMap<String, DynType>,
    hash: Option<String>,
    #[serde(default)]
    nan_random: bool,
}

#[derive(Deserialize)]
struct File {
    go: String,
    goarch: String,
    use_aeshash: bool,
    aeskeysched: String,
    hashkey: Vec<String>,
    corpus: Region,
    types: BTreeMap<String, TypeDesc>,
    vectors: Vec<Vector>,
}

fn hex_u64(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex number")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex byte"))
        .collect()
}

/// What the decoder will do with Go type information, here from reflect.
fn key_type(d: &TypeDesc) -> KeyType {
    match d.kind.as_str() {
        "bool" | "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64"
        | "uintptr" | "ptr" | "chan" | "unsafe.Pointer" => KeyType::Memory { size: d.size },
        "string" => KeyType::String,
        "float32" => KeyType::Float32,
        "float64" => KeyType::Float64,
        "complex64" => KeyType::Complex64,
        "complex128" => KeyType::Complex128,
        "interface" => KeyType::Interface { empty: d.empty },
        "array" => KeyType::array(d.len, key_type(d.elem.as_ref().expect("array elem"))),
        "struct" => KeyType::Struct {
            size: d.size,
            fields: d
                .fields
                .iter()
                .map(|f| KeyField::new(&f.name, f.offset, key_type(&f.ty)))
                .collect(),
        },
        k => panic!("unexpected kind {k}"),
    }
}

/// The target's memory as the vector recorded it.
struct Snapshot {
    regions: Vec<(u64, Vec<u8>)>,
    dynamic: BTreeMap<u64, (KeyType, bool)>,
}

impl Snapshot {
    fn read(&self, addr: u64, len: u64) -> Option<&[u8]> {
        if len == 0 {
            // Zero-size values live at runtime.zerobase, never recorded.
            return Some(&[]);
        }
        self.regions.iter().find_map(|(base, bytes)| {
            let off = addr.checked_sub(*base)?;
            bytes.get(off as usize..(off + len) as usize)
        })
    }
}

impl KeyResolver for Snapshot {
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError> {
        self.read(ptr, len).map(Cow::Borrowed).ok_or(HashError::Unresolved {
            what: "string",
            addr: ptr,
            len,
        })
    }

    fn interface_value(&self, type_word: u64, data_word: u64, _empty: bool) -> Result<DynamicValue<'_>, HashError> {
        let (ty, direct) = self.dynamic.get(&type_word).ok_or(HashError::Unresolved {
            what: "type",
            addr: type_word,
            len: 0,
        })?;
        let bytes = if *direct {
            Cow::Owned(data_word.to_le_bytes().to_vec())
        } else {
            let size = ty.size()?;
            Cow::Borrowed(self.read(data_word, size).ok_or(HashError::Unresolved {
                what: "interface data",
                addr: data_word,
                len: size,
            })?)
        };
        Ok(DynamicValue {
            key_type: Cow::Borrowed(ty),
            bytes,
        })
    }
}

fn major_minor(go: &str) -> (u32, u32) {
    let mut parts = go.trim_start_matches("go").split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).expect("major");
    let minor = parts.next().and_then(|p| p.parse().ok()).expect("minor");
    (major, minor)
}

fn arch_of(goarch: &str) -> Arch {
    match goarch {
        "amd64" => Arch::Amd64,
        "arm64" => Arch::Arm64,
        other => panic!("vectors for GOARCH {other}"),
    }
}

/// The file's runtime, from what the file says it ran on (`arm64-*.json`
/// come from arm64 builds run under qemu-user).
fn params_of(f: &File) -> HashParams {
    let hashkey: Vec<u64> = f.hashkey.iter().map(|h| hex_u64(h)).collect();
    let alg = HashAlgorithm::from_runtime(f.use_aeshash, &unhex(&f.aeskeysched), &hashkey).expect("key material");
    let (major, minor) = major_minor(&f.go);
    HashParams::for_go(arch_of(&f.goarch), major, minor, alg).expect("params")
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hash");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("vector directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> File {
    serde_json::from_slice(&std::fs::read(path).expect("read vectors")).expect("parse vectors")
}

/// Checks one file; returns the number of vectors checked.
fn check_file(path: &Path) -> usize {
    let f = load(path);
    let params = params_of(&f);
    let corpus = (hex_u64(&f.corpus.addr), unhex(&f.corpus.hex));
    let mut failures = Vec::new();
    let mut hashers: BTreeMap<&str, KeyHasher> = BTreeMap::new();
    for (i, v) in f.vectors.iter().enumerate() {
        let desc = f.types.get(&v.ty).expect("type of vector");
        let hasher = hashers
            .entry(&v.ty)
            .or_insert_with(|| KeyHasher::new(&params, &key_type(desc)).expect("key hasher"));
        let mut regions = vec![corpus.clone()];
        regions.extend(v.mem.iter().map(|r| (hex_u64(&r.addr), unhex(&r.hex))));
        let snap = Snapshot {
            regions,
            dynamic: v
                .dynamic
                .iter()
                .map(|(k, d)| (hex_u64(k), (key_type(&d.ty), d.direct)))
                .collect(),
        };
        let key = unhex(&v.key);
        let seed = hex_u64(&v.seed);
        let want = if v.nan_random {
            HashOutcome::NanRandom
        } else {
            HashOutcome::Hash(hex_u64(v.hash.as_deref().expect("hash")))
        };
        match hasher.hash(&key, seed, &snap) {
            Ok(got) if got == want => {}
            got => failures.push(format!("#{i} {} seed {}: got {got:?}, want {want:?}", v.ty, v.seed)),
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} of {} vectors differ:\n{}",
        path.display(),
        failures.len(),
        f.vectors.len(),
        failures.join("\n")
    );
    f.vectors.len()
}

#[test]
fn every_vector_file_matches_the_runtime() {
    let files = vector_files();
    assert!(
        files.len() >= 32,
        "expected 8 toolchains x {{aes, noaes}} x {{amd64, arm64}}, found {}",
        files.len()
    );
    let mut total = 0;
    let mut arm64_aes = 0;
    for path in &files {
        let f = load(path);
        if f.goarch == "arm64" && f.use_aeshash {
            arm64_aes += 1;
        }
        total += check_file(path);
    }
    assert!(total > 32 * 500);
    assert!(arm64_aes >= 8, "arm64 AES vector files: {arm64_aes}");
}

/// The primitives on their own, through the vectors that map to exactly one
/// runtime function.
#[test]
fn primitives_match_the_runtime() {
    for path in vector_files() {
        let f = load(&path);
        let p = params_of(&f);
        let corpus = (hex_u64(&f.corpus.addr), unhex(&f.corpus.hex));
        for v in &f.vectors {
            let Some(want) = v.hash.as_deref().map(hex_u64) else {
                continue;
            };
            let key = unhex(&v.key);
            let seed = hex_u64(&v.seed);
            let got = match v.ty.as_str() {
                "string" => {
                    let ptr = u64::from_le_bytes(key[..8].try_into().unwrap());
                    let len = u64::from_le_bytes(key[8..].try_into().unwrap()) as usize;
                    let off = ptr.wrapping_sub(corpus.0) as usize;
                    let data = if len == 0 { &[][..] } else { &corpus.1[off..off + len] };
                    p.strhash(data, seed)
                }
                "uint32" => p.memhash32(u32::from_le_bytes(key[..].try_into().unwrap()), seed),
                "uint64" => p.memhash64(u64::from_le_bytes(key[..].try_into().unwrap()), seed),
                "float32" => p
                    .f32hash(f32::from_le_bytes(key[..].try_into().unwrap()), seed)
                    .value()
                    .expect("not NaN"),
                "float64" => p
                    .f64hash(f64::from_le_bytes(key[..].try_into().unwrap()), seed)
                    .value()
                    .expect("not NaN"),
                t if t.starts_with('[') && t.ends_with("]uint8") => match key.len() {
                    4 => p.memhash32(u32::from_le_bytes(key[..].try_into().unwrap()), seed),
                    8 => p.memhash64(u64::from_le_bytes(key[..].try_into().unwrap()), seed),
                    _ => p.memhash(&key, seed),
                },
                _ => continue,
            };
            assert_eq!(got, want, "{} {} seed {}", path.display(), v.ty, v.seed);
        }
    }
}

/// The vectors tell the version families apart: hashing 1.26 vectors with
/// the 1.27 rules (and back) must fail exactly on the keys whose generated
/// hasher changed, and the fallback files must reject the other fallback.
#[test]
fn vectors_discriminate_between_rule_sets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hash");
    let differing_on = |file: &str, arch: Option<Arch>, version: HashVersion| -> Vec<String> {
        let f = load(&dir.join(file));
        let hashkey: Vec<u64> = f.hashkey.iter().map(|h| hex_u64(h)).collect();
        let alg = HashAlgorithm::from_runtime(f.use_aeshash, &unhex(&f.aeskeysched), &hashkey).unwrap();
        let params = HashParams::new(arch.unwrap_or(arch_of(&f.goarch)), version, alg).unwrap();
        let corpus = (hex_u64(&f.corpus.addr), unhex(&f.corpus.hex));
        let mut out: Vec<String> = Vec::new();
        for v in &f.vectors {
            let Some(want) = v.hash.as_deref().map(hex_u64) else {
                continue;
            };
            let hasher = KeyHasher::new(&params, &key_type(&f.types[&v.ty])).unwrap();
            let mut regions = vec![corpus.clone()];
            regions.extend(v.mem.iter().map(|r| (hex_u64(&r.addr), unhex(&r.hex))));
            let snap = Snapshot {
                regions,
                dynamic: v
                    .dynamic
                    .iter()
                    .map(|(k, d)| (hex_u64(k), (key_type(&d.ty), d.direct)))
                    .collect(),
            };
            let got = hasher.hash(&unhex(&v.key), hex_u64(&v.seed), &snap).unwrap();
            if got != HashOutcome::Hash(want) && !out.contains(&v.ty) {
                out.push(v.ty.clone());
            }
        }
        out.sort();
        out
    };
    let differing = |file: &str, version: HashVersion| differing_on(file, None, version);
    // Struct keys with 4- or 8-byte memory runs next to other fields, and
    // arrays whose unrolled elements merge memory, changed in 1.27.
    // S15 and S16 have only 1-, 9- and 16-byte runs, which hash alike.
    let changed = [
        "S1", "S11", "S13", "S2", "S4", "S5", "S7", "S8", "S9", "[2]S4", "[2][3]S4", "[3]S13", "[3]S5", "[5]S5",
        "[9]S12",
    ];
    assert_eq!(differing("1.27.3.json", HashVersion::Go123To126), changed);
    assert_eq!(differing("1.26.6.json", HashVersion::Go127), changed);
    // Interface keys hash their dynamic value with typehash in every
    // version, so they are not in the list above; the fallback changed in
    // 1.23 for every key.
    assert!(differing("1.22.10-noaes.json", HashVersion::Go123To126).len() > 40);
    assert!(differing("1.23.9-noaes.json", HashVersion::Go119To122).len() > 40);
    assert!(differing("1.22.10.json", HashVersion::Go123To126).is_empty());
    // arm64's AES hash is its own: the amd64 algorithm with the same keys
    // gets every key wrong, and the other way round.
    assert!(differing_on("arm64-1.22.10.json", Some(Arch::Amd64), HashVersion::Go119To122).len() > 40);
    assert!(differing_on("1.22.10.json", Some(Arch::Arm64), HashVersion::Go119To122).len() > 40);
    // The fallback is the same Go code on both.
    assert!(differing_on("arm64-1.22.10-noaes.json", Some(Arch::Amd64), HashVersion::Go119To122).is_empty());
    // Go 1.19's short-input path ends without AESMC (HashParams::new assumes
    // the later code), and 1.27's memhash32 keeps the whole seed.
    assert!(differing("arm64-1.19.8.json", HashVersion::Go119To122).contains(&"string".to_string()));
    assert!(differing("arm64-1.27.3.json", HashVersion::Go127).is_empty());
    assert!(differing("arm64-1.26.6.json", HashVersion::Go127).contains(&"uint32".to_string()));
}

/// The 1.27 signatures equal the `type:.hash.<sig>` symbols that
/// `go tool nm` lists in the 1.27.3 generator binary, and the whole-type
/// hashers equal the runtime functions the compiler picks.
#[test]
fn go127_signatures_match_the_compiler() {
    let f = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hash/1.27.3.json"));
    let params = params_of(&f);
    let kind = |name: &str| {
        KeyHasher::new(&params, &key_type(&f.types[name]))
            .unwrap()
            .kind()
            .clone()
    };
    let generated = |sig: &str| HasherKind::Generated {
        signature: Some(sig.to_string()),
    };
    for (name, sig) in [
        ("S1", "M4K4M8S"),
        ("S4", "M1K7M8"),
        ("S5", "M4FM4"),
        ("S6", "SSM2"),
        ("S7", "K4M4S"),
        ("S8", "EIM8"),
        ("S10", "GGM1"),
        ("S11", "M4K4SM1K7M8"),
        ("S15", "M1K1M9K5SM16"),
        ("S16", "M16G"),
        ("[3]S5", "M4FM8FM8FM4"),
        ("[5]S5", "M4FM4[2M4FM8FM4]"),
        ("[9]S12", "FM4[2FM4FM4FM4FM4]"),
        ("[2][3]S4", "[2M1K7M9K7M9K7M8]"),
        ("[3]S13", "[3SM8]"),
        ("[40]float64", "[10GGGG]"),
        ("[3]string", "SSS"),
        ("[2]any", "EE"),
    ] {
        assert_eq!(kind(name), generated(sig), "{name}");
    }
    assert_eq!(kind("S2"), generated("SM8"));
    assert_eq!(kind("S3"), HasherKind::Runtime("memhash64"));
    assert_eq!(kind("S14"), HasherKind::Runtime("strhash"));
    assert_eq!(kind("[1]string"), HasherKind::Runtime("strhash"));
    assert_eq!(kind("complex64"), HasherKind::Runtime("c64hash"));
    assert_eq!(kind("struct{}"), HasherKind::Runtime("memhash0"));
    assert_eq!(kind("[3]uint16"), HasherKind::MemhashVarlen(6));
    assert_eq!(kind("[4]uint8"), HasherKind::Runtime("memhash32"));
}
