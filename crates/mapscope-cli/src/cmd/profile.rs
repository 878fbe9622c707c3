//! `maps --pprof FILE`: the census as a pprof profile, its stacks the owner
//! paths (root first) with the map type as the leaf.

use std::path::Path;

use anyhow::Context;
use mapscope::census::Census;
use mapscope::profile::{write_pprof, ProfileMap, ProfileMeta};

pub fn write(path: &Path, c: &Census, core: Option<&Path>) -> anyhow::Result<()> {
    let frames: Vec<Vec<String>> = c.maps.iter().map(|m| m.profile_frames()).collect();
    let types: Vec<String> = c
        .maps
        .iter()
        .map(|m| m.type_name.clone().unwrap_or_else(|| "map (type unknown)".to_string()))
        .collect();
    let maps: Vec<ProfileMap<'_>> = c
        .maps
        .iter()
        .zip(&types)
        .zip(&frames)
        .map(|((m, t), f)| ProfileMap {
            frames: f,
            map_type: t,
            bytes: m.bytes,
            live_bytes: m.live_bytes,
            waste_bytes: m.waste_bytes,
        })
        .collect();
    let mut comment = vec![format!(
        "mapscope census: {} {}",
        c.go_version.as_deref().unwrap_or("Go ?"),
        c.variant
    )];
    if let Some(core) = core {
        comment.push(format!("core {}", core.display()));
    }
    let time_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let meta = ProfileMeta { comment, time_nanos };
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    write_pprof(&maps, &meta, &mut file).with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::flush(&mut file).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
