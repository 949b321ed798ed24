//! Finished cells on disk: `OUT/cells/<cell>.json`, one file per cell,
//! written atomically, so a killed run leaves either a whole result or none.
//! A cell's scratch (search output, retrain state) lives in
//! `OUT/work/<cell>/` and is thrown away when the cell is started again.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bipeft_core::experiment::{Cell, CellRecord};

use bipeft_core::train::atomic::write_json_atomic;

pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn cell_file(&self, cell: &Cell) -> PathBuf {
        self.root
            .join("cells")
            .join(format!("{}.json", cell.file_stem()))
    }

    /// The lock of `cell` while a run computes it ([`super::lock`]).
    pub fn lock_file(&self, cell: &Cell) -> PathBuf {
        self.root
            .join("cells")
            .join(format!("{}.lock", cell.file_stem()))
    }

    /// The cell's scratch folder.
    pub fn work_dir(&self, cell: &Cell) -> PathBuf {
        self.root.join("work").join(cell.file_stem())
    }

    /// An empty scratch folder for `cell` (what a killed attempt left is removed).
    pub fn fresh_work_dir(&self, cell: &Cell) -> anyhow::Result<PathBuf> {
        let dir = self.work_dir(cell);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// The stored result of `cell`, if it has finished. A stored result made
    /// with other settings is an error: reusing it would mix two plans, and
    /// silently recomputing it would throw work away.
    pub fn load(&self, cell: &Cell) -> anyhow::Result<Option<CellRecord>> {
        let path = self.cell_file(cell);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let record: CellRecord = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a cell result", path.display()))?;
        if record.is_from_older_search() {
            // Made by an older search: recomputed (and overwritten) by this one.
            return Ok(None);
        }
        if !record.is_of(cell) {
            bail!(
                "{} holds a result of cell {} made with other settings than the plan's now; \
                 delete it to recompute it, or choose another --out",
                path.display(),
                record.id
            );
        }
        Ok(Some(record))
    }

    /// Stores a finished cell and drops its scratch.
    pub fn save(&self, cell: &Cell, record: &CellRecord) -> anyhow::Result<()> {
        write_json_atomic(&self.cell_file(cell), record)?;
        let work = self.work_dir(cell);
        if work.exists() {
            std::fs::remove_dir_all(&work)
                .with_context(|| format!("cannot remove {}", work.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bipeft_core::experiment::{CellOutcome, Plan, PlanFormat};

    fn cells() -> Vec<Cell> {
        let text = r#"
budgets = [1000]
methods = ["bipeft", "bitfit"]
seeds = [7]
[[models]]
name = "tiny"
path = "m"
[[tasks]]
name = "sst2"
data = "d"
"#;
        Plan::parse(text, PlanFormat::Toml, "p.toml", Path::new("/p"))
            .unwrap()
            .cells()
    }

    fn outcome() -> CellOutcome {
        CellOutcome {
            budget_params: 1000,
            metric: "accuracy".into(),
            score: 0.5,
            scores: Default::default(),
            trainable_params: 900,
            modules: 2,
            search_seconds: 1.0,
            retrain_seconds: 2.0,
            notes: vec![],
            majority_score: Some(0.5),
        }
    }

    #[test]
    fn saves_loads_and_refuses_a_changed_cell() {
        let root = std::env::temp_dir().join(format!("bipeft-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let store = Store::new(&root);
        let cells = cells();
        assert!(store.load(&cells[0]).unwrap().is_none());
        let work = store.fresh_work_dir(&cells[0]).unwrap();
        std::fs::write(work.join("partial"), "x").unwrap();
        assert!(store
            .fresh_work_dir(&cells[0])
            .unwrap()
            .read_dir()
            .unwrap()
            .next()
            .is_none());
        let record = CellRecord::new(&cells[0], outcome());
        store.save(&cells[0], &record).unwrap();
        assert!(!store.work_dir(&cells[0]).exists());
        assert_eq!(store.load(&cells[0]).unwrap(), Some(record));
        assert!(store.load(&cells[1]).unwrap().is_none());

        let mut changed = cells[0].clone();
        changed.retrain.epochs += 1;
        let err = store.load(&changed).unwrap_err().to_string();
        assert!(err.contains("other settings"), "{err}");

        std::fs::write(
            root.join("cells")
                .join(format!("{}.json", cells[1].file_stem())),
            "{",
        )
        .unwrap();
        let err = format!("{:#}", store.load(&cells[1]).unwrap_err());
        assert!(err.contains("is not a cell result"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
