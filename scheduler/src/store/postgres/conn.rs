//! One pooled connection: the storage traits take `&self`, the client
//! wants `&mut`, so it sits in a `RefCell` (a connection is used by one
//! blocking thread at a time). Statements are prepared once per
//! connection and kept by their text.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

use crate::store::StoreError;

/// Parameters of one statement.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A connection with its statement cache.
pub(in crate::store) struct Conn {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
}

impl Conn {
    pub(super) fn new(client: Client) -> Conn {
        Conn {
            client: RefCell::new(client),
            statements: RefCell::default(),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    /// Waits up to `timeout` for a notification on a channel this
    /// connection LISTENs on; takes every one that came. Says whether any did.
    pub(super) fn notified_within(&self, timeout: Duration) -> Result<bool, StoreError> {
        let mut client = self.client.borrow_mut();
        let mut notifications = client.notifications();
        let first = notifications.timeout_iter(timeout).next()?;
        let mut rest = notifications.iter();
        while rest.next()?.is_some() {}
        Ok(first.is_some())
    }

    /// `sql`'s prepared statement, prepared on first use.
    fn prepared(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.borrow_mut().prepare(sql)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs statements without parameters (DDL, BEGIN, COMMIT).
    pub(super) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }

    pub(super) fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().execute(&statement, params)?)
    }

    /// Like [`Conn::execute`], the count as the traits return it.
    pub(super) fn changed(&self, sql: &str, params: Params<'_>) -> Result<usize, StoreError> {
        let n = self.execute(sql, params)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query(&statement, params)?)
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query_opt(&statement, params)?)
    }

    pub(super) fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let statement = self.prepared(sql)?;
        Ok(self.client.borrow_mut().query_one(&statement, params)?)
    }

    /// Calls `each` with every row of `sql` as it streams in, so a large
    /// table is never held in memory at once.
    pub(super) fn for_each(
        &self,
        sql: &str,
        params: Params<'_>,
        each: &mut dyn FnMut(&Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let statement = self.prepared(sql)?;
        let mut client = self.client.borrow_mut();
        let mut rows = client.query_raw(&statement, params.iter().copied())?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
            each(&row)?;
        }
        Ok(())
    }
}

/// A `limit` argument as SQL takes it.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
