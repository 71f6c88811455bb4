//! The small, dialect-neutral query layer the shared store logic runs on.
//!
//! Both schemas use the same table and column names, and every statement of the shared logic
//! is written in the SQL that SQLite and PostgreSQL both accept (`$n` parameters,
//! `RETURNING`, `ON CONFLICT … DO NOTHING`). Each backend implements [`Conn`] for its
//! connection type: it binds [`V`] values and decodes columns into [`V`] by the [`Ty`] the
//! caller asks for. The few statements that differ are behind [`Dialect`].

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

/// The SQL dialect of a connection, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The type of a column to decode, or of a NULL to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    I64,
    Text,
    Bytes,
    Bool,
    Date,
    Time,
}

/// A bound parameter or a decoded column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null(Ty),
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    /// PostgreSQL arrays, for bulk loads with `UNNEST` (bound as JSON text on SQLite, which
    /// the shared logic never does).
    TextArray(Vec<String>),
    DateArray(Vec<NaiveDate>),
}

/// Rust types that map onto one [`Ty`].
pub(crate) trait HasTy {
    const TY: Ty;
}

macro_rules! value_from {
    ($t:ty, $ty:ident, $v:ident, |$x:ident| $e:expr) => {
        impl HasTy for $t {
            const TY: Ty = Ty::$ty;
        }
        impl From<$t> for V {
            fn from($x: $t) -> V {
                V::$v($e)
            }
        }
    };
}

value_from!(i64, I64, I64, |x| x);
value_from!(i32, I64, I64, |x| i64::from(x));
value_from!(u16, I64, I64, |x| i64::from(x));
value_from!(u8, I64, I64, |x| i64::from(x));
value_from!(bool, Bool, Bool, |x| x);
value_from!(String, Text, Text, |x| x);
value_from!(&str, Text, Text, |x| x.to_owned());
value_from!(&String, Text, Text, |x| x.clone());
value_from!(Vec<u8>, Bytes, Bytes, |x| x);
value_from!(&[u8], Bytes, Bytes, |x| x.to_vec());
value_from!(NaiveDate, Date, Date, |x| x);
value_from!(DateTime<Utc>, Time, Time, |x| x);

impl<T: HasTy + Into<V>> From<Option<T>> for V {
    fn from(x: Option<T>) -> V {
        match x {
            Some(v) => v.into(),
            None => V::Null(T::TY),
        }
    }
}

/// `args![a, b, c]` builds the parameter list of a statement.
macro_rules! args {
    ($($e:expr),* $(,)?) => { vec![$($crate::store::sql::V::from($e)),*] };
}
pub(crate) use args;

/// One decoded row.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub Vec<V>);

fn corrupt(i: usize, want: &str, got: &V) -> StoreError {
    StoreError::Corrupt(format!("column {i}: expected {want}, found {got:?}"))
}

impl Row {
    fn get(&self, i: usize) -> &V {
        self.0.get(i).unwrap_or(&V::Null(Ty::Text))
    }
    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i) {
            V::I64(x) => Ok(*x),
            v => Err(corrupt(i, "an integer", v)),
        }
    }
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i) {
            V::Null(_) => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.get(i) {
            V::Text(x) => Ok(x.clone()),
            v => Err(corrupt(i, "text", v)),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i) {
            V::Null(_) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.get(i) {
            V::Bytes(x) => Ok(x.clone()),
            v => Err(corrupt(i, "bytes", v)),
        }
    }
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.get(i) {
            V::Bool(x) => Ok(*x),
            v => Err(corrupt(i, "a boolean", v)),
        }
    }
    pub fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
        match self.get(i) {
            V::Date(x) => Ok(*x),
            v => Err(corrupt(i, "a date", v)),
        }
    }
    pub fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        match self.get(i) {
            V::Null(_) => Ok(None),
            _ => self.date(i).map(Some),
        }
    }
    pub fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.get(i) {
            V::Null(_) => Ok(None),
            _ => self.time(i).map(Some),
        }
    }
    pub fn time(&self, i: usize) -> Result<DateTime<Utc>, StoreError> {
        match self.get(i) {
            V::Time(x) => Ok(*x),
            v => Err(corrupt(i, "a timestamp", v)),
        }
    }
}

/// A connection (or transaction) the shared logic runs its statements on.
pub(crate) trait Conn: Send {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns the number of rows it affected.
    fn exec(
        &mut self,
        sql: &str,
        args: Vec<V>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a query and decodes every row by `cols`.
    fn rows(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Runs a query and hands each row, decoded by `cols`, to `f` as it arrives: the rows are
    /// never collected, so a large table is read in constant memory. Stops at the first error
    /// of `f`.
    fn each_row<F>(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
        f: F,
    ) -> impl Future<Output = Result<(), StoreError>> + Send
    where
        F: FnMut(Row) -> Result<(), StoreError> + Send;

    /// Runs a query that returns at most one row.
    fn opt_row(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send {
        async move { Ok(self.rows(sql, args, cols).await?.into_iter().next()) }
    }

    /// Runs a query that returns exactly one row.
    fn one_row(
        &mut self,
        sql: &str,
        args: Vec<V>,
        cols: &[Ty],
    ) -> impl Future<Output = Result<Row, StoreError>> + Send {
        async move {
            self.opt_row(sql, args, cols)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("no row returned by: {sql}")))
        }
    }
}

/// Maps a driver error: connection trouble is `Unavailable` (the caller may retry later),
/// a unique violation, serialization failure or deadlock is `Conflict` (the transaction can
/// be run again), anything else is a `Database` error.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Io(_)
        | E::Tls(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Protocol(_) => StoreError::Unavailable(e.to_string()),
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                // PostgreSQL: unique violation, serialization failure, deadlock.
                "23505" | "40001" | "40P01" => StoreError::Conflict(db.to_string()),
                // SQLite: UNIQUE and PRIMARY KEY constraint (extended codes).
                "2067" | "1555" => StoreError::Conflict(db.to_string()),
                // SQLite: BUSY, LOCKED, IOERR, FULL, CANTOPEN (and their extended codes).
                c if ["5", "6", "10", "13", "14"].contains(&c)
                    || c.parse::<u32>()
                        .is_ok_and(|n| n > 255 && [5, 6, 10, 13, 14].contains(&(n & 0xff))) =>
                {
                    StoreError::Unavailable(db.to_string())
                }
                // PostgreSQL: connection exceptions, shutdown, too many connections,
                // insufficient resources, read-only replica, and a server that refuses the
                // session (database not accepting connections or missing, login refused).
                c if c.starts_with("08")
                    || c.starts_with("57P")
                    || c.starts_with("53")
                    || c.starts_with("28")
                    || ["25006", "55000", "3D000"].contains(&c) =>
                {
                    StoreError::Unavailable(db.to_string())
                }
                _ => StoreError::Database(db.to_string()),
            }
        }
        _ => StoreError::Database(e.to_string()),
    }
}
