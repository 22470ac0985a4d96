//! `jobs list`, `jobs show` and `jobs rm`.

use clap::Subcommand;

use super::print_json;
use crate::jobs::{JobId, StageName};
use crate::studio::Studio;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The jobs in the data folder, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A job's input, media and stage states.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete jobs and everything they produced.
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

pub(super) fn run(command: JobsCommand, studio: &Studio) -> anyhow::Result<()> {
    let store = studio.store();
    match command {
        JobsCommand::List { json } => {
            let jobs = store.list()?;
            if json {
                return print_json(&jobs);
            }
            if jobs.is_empty() {
                println!("no jobs in {}", store.root().display());
            }
            for job in jobs {
                let progress = job.done_through.map_or("new".to_string(), |s| {
                    format!("done through {}", stage_label(s))
                });
                println!(
                    "{}  {:>8.1} s  {:<22}  {}",
                    job.id,
                    job.duration_seconds,
                    progress,
                    job.input.display()
                );
            }
            Ok(())
        }
        JobsCommand::Show { id, json } => {
            let manifest = store.load(id.parse::<JobId>()?)?;
            if json {
                return print_json(&manifest);
            }
            println!("job {}", manifest.id);
            println!("  input: {}", manifest.input.display());
            println!("  length: {:.2} s", manifest.media.duration_seconds);
            println!("  folder: {}", store.dir(manifest.id).display());
            for stage in StageName::ALL {
                let record = manifest.stage(stage);
                let timing = record
                    .seconds
                    .map(|s| format!(" in {s:.1} s"))
                    .unwrap_or_default();
                println!("  {:<10} {:?}{timing}", stage_label(stage), record.state);
            }
            Ok(())
        }
        JobsCommand::Rm { ids } => {
            // Validate every id before deleting anything.
            let ids = ids
                .iter()
                .map(|id| id.parse::<JobId>())
                .collect::<Result<Vec<_>, _>>()?;
            for id in ids {
                studio.delete_job(id)?;
                println!("deleted job {id}");
            }
            Ok(())
        }
    }
}

fn stage_label(stage: StageName) -> &'static str {
    match stage {
        StageName::Decode => "decode",
        StageName::Separate => "separate",
        StageName::Transcribe => "transcribe",
        StageName::Emotions => "emotions",
        StageName::Cuts => "cuts",
        StageName::Plan => "plan",
        StageName::Generate => "generate",
        StageName::Mix => "mix",
    }
}
