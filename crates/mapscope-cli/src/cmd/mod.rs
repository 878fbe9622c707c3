pub mod demo;
pub mod diff;
pub mod disasm;
pub mod info;
pub mod layout;
pub mod maps;
pub mod path;
pub mod profile;
pub mod report;
pub mod show;
pub mod target;
pub mod watch;

use std::path::Path;

use anyhow::Context;
use mapscope::binary::{GoBinary, OpenOptions};

use crate::Common;

pub fn open_binary(exe: &Path, common: &Common) -> anyhow::Result<GoBinary> {
    let opts = OpenOptions {
        go_version: common.go_version.clone(),
        allow_contradiction: common.force_go_version,
    };
    GoBinary::open_with(exe, &opts).with_context(|| format!("{}", exe.display()))
}
