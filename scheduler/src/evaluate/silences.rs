//! Silences through the engine: saving one re-evaluates what it mutes in
//! the same transaction.

use crate::alert::Silence;
use crate::app::App;
use crate::store::StoreError;

/// Stores a new silence (or a changed one) and re-evaluates.
///
/// # Errors
/// Store errors.
pub async fn put(app: &App, silence: Silence) -> Result<(), StoreError> {
    super::commit(app, move |engine, tx, world| {
        Ok(((), engine.put_silence(tx, world, silence)?))
    })
    .await
}

/// Ends the active or future silence `id` now; false when there is none.
///
/// # Errors
/// Store errors.
pub async fn expire(app: &App, id: String) -> Result<bool, StoreError> {
    super::commit(app, move |engine, tx, world| {
        let Some(mut silence) = tx.silence(&id)? else {
            return Ok((false, Vec::new()));
        };
        if silence.ends_at <= world.now {
            return Ok((false, Vec::new()));
        }
        silence.ends_at = world.now.max(silence.starts_at);
        Ok((true, engine.put_silence(tx, world, silence)?))
    })
    .await
}
