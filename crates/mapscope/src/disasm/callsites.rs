//! Calls from non-runtime code to the runtime's map entry points, each with
//! the map type whose descriptor the caller put in the first argument
//! register (RAX) — the compiler materialises it with `lea rax, [rip+X]`
//! right before the call, or earlier and keeps it in a register or spill
//! slot, which the register tracking follows.

use std::collections::HashMap;

use iced_x86::{FlowControl, Register};
use serde::Serialize;

use super::arm64 as a64;
use super::arm64_flow;
use super::flow::{analyse, decode, Amd64};
use super::names::{self, Arg, MapOp};
use super::regs::{Ctx, State, Val};
use super::{check_arch, hex, DisasmError};
use crate::binary::{Arch, Func, FuncLines, GoBinary, Kind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSite {
    /// The calling function (`main.fill`).
    pub function: String,
    /// Address of the call instruction.
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    pub callee: String,
    pub op: MapOp,
    /// reflect's name of the map type, when the descriptor in RAX is known.
    pub map_type: Option<String>,
    #[serde(serialize_with = "hex::opt_u64")]
    pub map_type_address: Option<u64>,
    /// Why `map_type` is null: the callee takes no map type
    /// (`makemap_small`, `mapinitnoop`), or the type argument could not be
    /// followed to a map type descriptor. Absent when `map_type` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_type_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// Every map call site in non-runtime code.
pub fn call_sites(bin: &GoBinary) -> Result<Vec<CallSite>, DisasmError> {
    call_sites_where(bin, |_| true)
}

/// Map call sites in the non-runtime functions `keep` accepts.
pub fn call_sites_where(bin: &GoBinary, keep: impl Fn(&Func) -> bool) -> Result<Vec<CallSite>, DisasmError> {
    check_arch(bin)?;
    let funcs: Vec<Func> = bin.functions().filter_map(Result::ok).collect();
    // Entry address → (callee name, op, does RAX hold the type?).
    let entries: HashMap<u64, (&str, MapOp, bool)> = funcs
        .iter()
        .filter_map(|f| {
            let row = names::lookup(&f.name)?;
            let op = row.op?;
            Some((f.entry, (f.name.as_str(), op, row.args.first() == Some(&Arg::MapType))))
        })
        .collect();
    let ctx = Ctx {
        fields: None,
        small: false,
        key_size: None,
    };
    let mut types: HashMap<u64, Option<String>> = HashMap::new();
    let mut out = Vec::new();
    for f in funcs.iter().filter(|f| !names::is_runtime(&f.name) && keep(f)) {
        let Ok(bytes) = bin.read_at(f.entry, f.end.saturating_sub(f.entry)) else {
            continue;
        };
        if bin.arch() == Arch::Arm64 {
            // The type is in R0 at the BL.
            let insns = a64::decode(bytes, f.entry);
            let calls: Vec<(usize, u64)> = insns
                .iter()
                .enumerate()
                .filter(|(_, i)| i.opcode() == Some(yaxpeax_arm::armv8::a64::Opcode::BL))
                .filter_map(|(k, i)| Some((k, i.branch_target()?)))
                .filter(|(_, t)| entries.contains_key(t))
                .collect();
            if calls.is_empty() || runtime_body(bin, f) {
                continue;
            }
            let mut m = arm64_flow::Arm64 { ctx: &ctx };
            let flow = analyse(&insns, arm64_flow::State::entry(&[]), &mut m);
            let at: Vec<usize> = calls.iter().map(|&(k, _)| k).collect();
            let states = flow.states_at(&insns, &mut m, &at);
            let lines = bin.func_lines(f);
            for ((k, target), st) in calls.into_iter().zip(states) {
                let (Some(ins), Some(&(callee, op, typed))) = (insns.get(k), entries.get(&target)) else {
                    continue;
                };
                let x0 = st.as_ref().map_or(Val::Unknown, |s| s.get(0));
                out.push(call_site(
                    bin,
                    &mut types,
                    f,
                    &lines,
                    ins.addr,
                    (callee, op, typed),
                    (x0, "R0"),
                ));
            }
            continue;
        }
        let dec = decode(bytes, f.entry);
        let calls: Vec<usize> = dec
            .insns
            .iter()
            .enumerate()
            .filter(|(_, i)| i.flow_control() == FlowControl::Call && entries.contains_key(&i.near_branch_target()))
            .map(|(k, _)| k)
            .collect();
        if calls.is_empty() || runtime_body(bin, f) {
            continue;
        }
        let mut m = Amd64::new(&ctx);
        let flow = analyse(&dec.insns, State::entry(&[]), &mut m);
        let states = flow.states_at(&dec.insns, &mut m, &calls);
        let lines = bin.func_lines(f);
        for (k, st) in calls.into_iter().zip(states) {
            let Some(ins) = dec.insns.get(k) else { continue };
            let Some(&(callee, op, typed)) = entries.get(&ins.near_branch_target()) else {
                continue;
            };
            let rax = st.as_ref().map_or(Val::Unknown, |s| s.get(Register::RAX));
            out.push(call_site(
                bin,
                &mut types,
                f,
                &lines,
                ins.ip(),
                (callee, op, typed),
                (rax, "RAX"),
            ));
        }
    }
    Ok(out)
}

/// Runtime code under another package's name: reflect's linknamed twins
/// (`reflect.mapiterinit`, `reflect.addReflectOff`) are runtime bodies, so
/// their calls are the runtime's own, not user code's. Told by the source
/// file, which pclntab keeps even in stripped binaries.
fn runtime_body(bin: &GoBinary, f: &Func) -> bool {
    if names::lookup(&f.name).is_some() {
        return true;
    }
    let file = bin.line_for_pc(f.entry).and_then(|l| l.file).unwrap_or_default();
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    dir == "runtime" || dir.ends_with("/runtime") || dir.contains("internal/runtime/")
}

/// The call at `address` in `f` to `callee` (whose first argument is a map
/// type when `typed`), with `arg` the value tracked in the argument register
/// `reg`: one place for both architectures.
fn call_site(
    bin: &GoBinary,
    types: &mut HashMap<u64, Option<String>>,
    f: &Func,
    lines: &FuncLines,
    address: u64,
    (callee, op, typed): (&str, MapOp, bool),
    (arg, reg): (Val, &str),
) -> CallSite {
    let (map_type, map_type_address, map_type_reason) = typed_arg(bin, types, callee, typed, arg, reg);
    let line = lines.at(address);
    CallSite {
        function: f.name.clone(),
        address,
        callee: callee.to_string(),
        op,
        map_type,
        map_type_address,
        map_type_reason,
        file: line.map(|(f, _)| f.to_string()),
        line: line.map(|(_, l)| l),
    }
}

/// The map type a call passes (its name and descriptor address), or why
/// there is none. `arg` is the value tracked in the first argument
/// register, `reg` its name.
fn typed_arg(
    bin: &GoBinary,
    types: &mut HashMap<u64, Option<String>>,
    callee: &str,
    typed: bool,
    arg: Val,
    reg: &str,
) -> (Option<String>, Option<u64>, Option<String>) {
    if !typed {
        let short = callee.rsplit('.').next().unwrap_or(callee);
        return (None, None, Some(format!("{short} takes no map type")));
    }
    let Val::Const(a) = arg else {
        return (
            None,
            None,
            Some(format!(
                "the map type in {reg} comes from code the tracking does not follow"
            )),
        );
    };
    match types.entry(a).or_insert_with(|| map_type_name(bin, a)).clone() {
        Some(name) => (Some(name), Some(a), None),
        None => (
            None,
            None,
            Some(format!("{reg} holds {a:#x}, not a map type descriptor")),
        ),
    }
}

/// The name of the map type descriptor at `a`, if it is one.
fn map_type_name(bin: &GoBinary, a: u64) -> Option<String> {
    let md = bin.moduledata().ok()?;
    if a < md.types || a >= md.etypes {
        return None;
    }
    let t = bin.runtime_type(a).ok()?;
    (t.kind == Kind::Map).then_some(t.name)
}
