//! Maintenance windows through the engine: saving or deleting one
//! re-evaluates what it covers in the same transaction.

use crate::app::App;
use crate::maintenance::Window;
use crate::store::StoreError;

/// Stores a window made through the API and re-evaluates.
///
/// # Errors
/// Store errors.
pub async fn put(app: &App, window: Window) -> Result<(), StoreError> {
    super::commit(app, move |engine, tx, world| {
        Ok(((), engine.put_window(tx, world, window)?))
    })
    .await
}

/// Deletes the API's window `id`; false when there is none.
///
/// # Errors
/// Store errors.
pub async fn delete(app: &App, id: String) -> Result<bool, StoreError> {
    super::commit(app, move |engine, tx, world| {
        engine.delete_window(tx, world, &id)
    })
    .await
}
