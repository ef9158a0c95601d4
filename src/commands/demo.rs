//! `demo`: the whole monthly job against local stand-ins.
use anyhow::Result;

use crate::cli::DemoArgs;
use crate::commands::Exit;

pub async fn demo(_args: &DemoArgs) -> Result<Exit> {
    anyhow::bail!("demo: being written")
}
