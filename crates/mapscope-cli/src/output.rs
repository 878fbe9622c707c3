//! Where results go: stdout (a closed pipe ends the program quietly) and
//! exit codes: 0 ok, 1 not found, 2 error (nothing or little was output),
//! 3 partial (the output is written and its errors say what is wrong).

use std::io::{self, Write};
use std::process::ExitCode;

/// The output is written, but its `errors` say it is incomplete or doubtful
/// (a walk that stopped at a structural error, a header whose count is not
/// what its buckets hold): exit code 3, and nothing more is printed — the
/// errors are in the output already.
#[derive(Debug, thiserror::Error)]
#[error("{0} error(s) in the output")]
pub struct Partial(pub usize);

/// `Ok` when `errors` is 0, else [`Partial`].
pub fn partial(errors: usize) -> anyhow::Result<()> {
    if errors == 0 {
        Ok(())
    } else {
        Err(Partial(errors).into())
    }
}

/// An error that means "looked, and it is not there": exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// What `--limit` means in every command: absent, the command's default
/// for its output (text is bounded so that a 1M-entry map does not flood a
/// terminal; JSON is complete); 0, no bound; N, at most N.
pub fn limit(given: Option<usize>, default: usize) -> usize {
    match given {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => default,
    }
}

/// The line that closes a bounded text listing: what was left out and how to
/// see it.
pub fn more(out: &mut impl Write, indent: &str, left_out: u64, one: &str, many: &str) -> io::Result<()> {
    if left_out == 0 {
        return Ok(());
    }
    let noun = if left_out == 1 { one } else { many };
    writeln!(out, "{indent}… {left_out} more {noun} (--limit N for more, --limit 0 for all)")
}

/// `1 bucket`, `2 buckets`: counts in words, never `1 bucket(s)`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind()) == Some(io::ErrorKind::BrokenPipe)
    })
}

pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Partial>().is_some() => ExitCode::from(3),
        Err(e) => {
            eprintln!("mapscope: {}", message(&e));
            if e.downcast_ref::<NotFound>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// The error and its causes on one line, each said once: a library error
/// that already quotes its cause (`cannot read F: No such file`) or a
/// context that the cause repeats (`F` over `cannot read F: …`) is not
/// printed twice.
pub fn message(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in e.chain().map(|c| c.to_string()) {
        match parts.last() {
            Some(last) if last.contains(&part) => {}
            Some(last) if part.contains(last.as_str()) => {
                parts.pop();
                parts.push(part);
            }
            _ => parts.push(part),
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let inner = anyhow::Error::new(io).context("cannot read /x/mapfix: No such file or directory (os error 2)");
        let e = inner.context("/x/mapfix");
        assert_eq!(
            super::message(&e),
            "cannot read /x/mapfix: No such file or directory (os error 2)"
        );
        let e = anyhow::anyhow!("0x1234 is not mapped").context("reading the map header at 0x1234");
        assert_eq!(
            super::message(&e),
            "reading the map header at 0x1234: 0x1234 is not mapped"
        );
    }
}
