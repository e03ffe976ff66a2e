//! Opening a redb file so that a new one appears whole or not at all.

use std::path::Path;

use redb::{Database, WriteTransaction};

/// Opens the database at `path`, creating it first if it is not there.
/// A new file is built beside it with `tables` made, synced, then renamed
/// into place: a process killed while redb wrote a new file's header used
/// to leave a file that no later start could open ("not a redb database").
/// Another process holding the file is `redb::Error::DatabaseAlreadyOpen`.
pub(crate) fn open_whole(
    path: &Path,
    tables: impl Fn(&WriteTransaction) -> Result<(), redb::TableError>,
) -> Result<Database, redb::Error> {
    if !path.exists() {
        create_whole(path, &tables)?;
    }
    let db = Database::create(path)?;
    // Tables added since the file was made.
    let txn = db.begin_write()?;
    tables(&txn)?;
    txn.commit()?;
    Ok(db)
}

fn create_whole(
    path: &Path,
    tables: &impl Fn(&WriteTransaction) -> Result<(), redb::TableError>,
) -> Result<(), redb::Error> {
    let fresh = path.with_extension("redb.new");
    match std::fs::remove_file(&fresh) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    {
        let db = Database::create(&fresh)?;
        let txn = db.begin_write()?;
        tables(&txn)?;
        txn.commit()?;
    }
    std::fs::File::open(&fresh).and_then(|f| f.sync_all())?;
    std::fs::rename(&fresh, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(())
}
