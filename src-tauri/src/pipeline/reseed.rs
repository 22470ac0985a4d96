//! Regenerating one candidate, or one section of one candidate: new seeds for it in
//! `plan.json`. The next run redoes generate and mix (the plan's content is in their
//! fingerprint); every other candidate keeps its seeds, and since each candidate's noise comes
//! only from its own seed, its music comes out the same.

use bgm_models::plan::{MusicPlan, CANDIDATES};
use bgm_models::seed::next_seed32 as next_seed;

use super::error::{PipelineError, Result};
use super::files::JobFiles;

/// Gives `candidate` new seeds in `section` (or in every section) and saves the plan.
pub fn reseed_candidate(
    files: &JobFiles,
    candidate: usize,
    section: Option<usize>,
) -> Result<MusicPlan> {
    let path = files.plan();
    let mut plan = files.load_plan()?;
    if candidate >= CANDIDATES {
        return Err(PipelineError::file(
            &path,
            format!(
                "there is no candidate {candidate}: candidates are 0-{}",
                CANDIDATES - 1
            ),
        ));
    }
    let count = plan.sections.len();
    if let Some(s) = section.filter(|&s| s >= count) {
        return Err(PipelineError::file(
            &path,
            format!(
                "there is no section {s}: the plan has sections 0-{}",
                count.saturating_sub(1)
            ),
        ));
    }
    for (i, s) in plan.sections.iter_mut().enumerate() {
        if section.is_none_or(|only| only == i) {
            if let Some(c) = s.candidates.get_mut(candidate) {
                c.seed = next_seed(c.seed);
            }
        }
    }
    files.save_plan(&plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use bgm_models::seed::next_seed32 as next_seed;

    #[test]
    fn seeds_change_and_do_not_cycle_quickly() {
        let mut seen = std::collections::HashSet::new();
        let mut s = 7;
        for _ in 0..1000 {
            assert!(seen.insert(s));
            s = next_seed(s);
        }
    }
}
