//! For tests: an independent reader of pprof's `profile.proto` (written from
//! the .proto, sharing no code with mapscope's encoder), and `go tool pprof`
//! itself where a Go toolchain is at hand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------
// A minimal protobuf reader: each message as a list of (field, value).

#[derive(Debug, Clone)]
enum Value {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn read_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
        assert!(shift < 64, "varint too long");
    }
}

fn fields(buf: &[u8]) -> Vec<(u32, Value)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos);
        let field = u32::try_from(key >> 3).unwrap();
        match key & 7 {
            0 => out.push((field, Value::Varint(read_varint(buf, &mut pos)))),
            2 => {
                let len = usize::try_from(read_varint(buf, &mut pos)).unwrap();
                out.push((field, Value::Bytes(buf[pos..pos + len].to_vec())));
                pos += len;
            }
            wt => panic!("unexpected wire type {wt} for field {field}"),
        }
    }
    assert_eq!(pos, buf.len(), "message overran its buffer");
    out
}

fn varint_of(fs: &[(u32, Value)], field: u32) -> u64 {
    let mut v = 0;
    for (f, val) in fs {
        if *f == field {
            match val {
                Value::Varint(x) => v = *x,
                Value::Bytes(_) => panic!("field {field} is not a varint"),
            }
        }
    }
    v
}

/// A repeated integer field, packed or not.
fn repeated_of(fs: &[(u32, Value)], field: u32) -> Vec<u64> {
    let mut out = Vec::new();
    for (f, val) in fs {
        if *f == field {
            match val {
                Value::Varint(x) => out.push(*x),
                Value::Bytes(b) => {
                    let mut pos = 0;
                    while pos < b.len() {
                        out.push(read_varint(b, &mut pos));
                    }
                }
            }
        }
    }
    out
}

fn messages_of(fs: &[(u32, Value)], field: u32) -> Vec<Vec<(u32, Value)>> {
    fs.iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| match v {
            Value::Bytes(b) => fields(b),
            Value::Varint(_) => panic!("field {field} is not a message"),
        })
        .collect()
}

#[derive(Debug)]
pub struct Decoded {
    pub strings: Vec<String>,
    pub sample_types: Vec<(String, String)>,
    pub default_sample_type: String,
    pub comments: Vec<String>,
    pub time_nanos: i64,
    /// Each sample: its stack as names, leaf first, and its values.
    pub samples: Vec<(Vec<String>, Vec<i64>)>,
    pub functions: Vec<(u64, String)>,
    pub locations: Vec<(u64, u64, Vec<u64>)>, // id, mapping id, function ids of its lines
    pub mappings: Vec<(u64, bool)>,           // id, has_functions
}

pub fn decode(buf: &[u8]) -> Decoded {
    let p = fields(buf);
    // Every field of Profile we expect; nothing else may appear.
    for (f, _) in &p {
        assert!(
            [1, 2, 3, 4, 5, 6, 9, 13, 14].contains(f),
            "unexpected Profile field {f}"
        );
    }
    let strings: Vec<String> = p
        .iter()
        .filter(|(f, _)| *f == 6)
        .map(|(_, v)| match v {
            Value::Bytes(b) => String::from_utf8(b.clone()).unwrap(),
            Value::Varint(_) => panic!("string_table entry is a varint"),
        })
        .collect();
    let s = |i: u64| strings[usize::try_from(i).unwrap()].clone();
    let sample_types = messages_of(&p, 1)
        .iter()
        .map(|vt| (s(varint_of(vt, 1)), s(varint_of(vt, 2))))
        .collect();
    let functions: Vec<(u64, String)> = messages_of(&p, 5)
        .iter()
        .map(|f| {
            assert_eq!(varint_of(f, 2), varint_of(f, 3), "system_name differs from name");
            (varint_of(f, 1), s(varint_of(f, 2)))
        })
        .collect();
    let locations: Vec<(u64, u64, Vec<u64>)> = messages_of(&p, 4)
        .iter()
        .map(|l| {
            assert_eq!(varint_of(l, 3), 0, "locations carry no address");
            let lines = messages_of(l, 4).iter().map(|ln| varint_of(ln, 1)).collect();
            (varint_of(l, 1), varint_of(l, 2), lines)
        })
        .collect();
    let mappings = messages_of(&p, 3)
        .iter()
        .map(|m| (varint_of(m, 1), varint_of(m, 7) == 1))
        .collect();
    let fn_name: HashMap<u64, String> = functions.iter().cloned().collect();
    let loc_name: HashMap<u64, String> = locations
        .iter()
        .map(|(id, _, lines)| {
            assert_eq!(lines.len(), 1, "one line per location");
            (*id, fn_name[&lines[0]].clone())
        })
        .collect();
    let samples = messages_of(&p, 2)
        .iter()
        .map(|smp| {
            assert!(messages_of(smp, 3).is_empty(), "no labels");
            let stack = repeated_of(smp, 1).iter().map(|id| loc_name[id].clone()).collect();
            let values = repeated_of(smp, 2).iter().map(|&v| v as i64).collect();
            (stack, values)
        })
        .collect();
    Decoded {
        sample_types,
        default_sample_type: s(varint_of(&p, 14)),
        comments: repeated_of(&p, 13).into_iter().map(s).collect(),
        time_nanos: varint_of(&p, 9) as i64,
        samples,
        functions,
        locations,
        mappings,
        strings,
    }
}

/// `$MAPSCOPE_GO`, else the newest fixture toolchain, else `go` on PATH.
pub fn find_go() -> Option<PathBuf> {
    if let Some(go) = std::env::var_os("MAPSCOPE_GO") {
        return Some(go.into());
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    let mut toolchains: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(home.join(".cache/mapscope/go"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e
                .file_name()
                .to_str()?
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            let go = e.path().join("bin/go");
            go.exists().then_some((version, go))
        })
        .collect();
    toolchains.sort();
    if let Some((_, go)) = toolchains.pop() {
        return Some(go);
    }
    let on_path = Command::new("go").arg("version").output().ok()?.status.success();
    on_path.then(|| "go".into())
}

pub fn pprof(go: &Path, tmp: &Path, args: &[&str]) -> String {
    let out = Command::new(go)
        .args(["tool", "pprof"])
        .args(args)
        .env("GOTOOLCHAIN", "local")
        .env("PPROF_TMPDIR", tmp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed:\n{stderr}\n{stdout}"
    );
    // pprof warns on stderr about anything odd in the profile (symbolization, mappings).
    assert!(stderr.trim().is_empty(), "go tool pprof {args:?} complained:\n{stderr}");
    stdout
}

/// Decodes a gzipped profile file.
pub fn decode_file(path: &Path) -> Decoded {
    use std::io::Read;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    decode(&raw)
}
