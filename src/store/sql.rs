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

/// One statement of a [`Conn::script`].
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub sql: String,
    pub args: Vec<V>,
    /// The columns of the rows it returns; empty when it returns none.
    pub cols: &'static [Ty],
}

impl Stmt {
    /// A statement that returns no rows.
    pub fn exec(sql: impl Into<String>, args: Vec<V>) -> Stmt {
        Stmt {
            sql: sql.into(),
            args,
            cols: &[],
        }
    }

    /// A statement whose rows are decoded by `cols`.
    pub fn rows(sql: impl Into<String>, args: Vec<V>, cols: &'static [Ty]) -> Stmt {
        Stmt {
            sql: sql.into(),
            args,
            cols,
        }
    }
}

/// What one statement of a script returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Done {
    pub rows: Vec<Row>,
    /// Rows inserted, updated or deleted (meaningful for those statements only).
    pub affected: u64,
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

    /// Runs the statements in order and returns what each returned; stops at the first error.
    /// A backend that can runs them in one round trip (SQLite: one multi-statement query on
    /// the connection's thread); the default runs them one after the other.
    fn script(
        &mut self,
        stmts: Vec<Stmt>,
    ) -> impl Future<Output = Result<Vec<Done>, StoreError>> + Send {
        self.script_each(stmts)
    }

    /// Runs the statements of a script one after the other.
    fn script_each(
        &mut self,
        stmts: Vec<Stmt>,
    ) -> impl Future<Output = Result<Vec<Done>, StoreError>> + Send {
        async move {
            let mut out = Vec::with_capacity(stmts.len());
            for s in stmts {
                out.push(if s.cols.is_empty() {
                    Done {
                        rows: Vec::new(),
                        affected: self.exec(&s.sql, s.args).await?,
                    }
                } else {
                    Done {
                        rows: self.rows(&s.sql, s.args, s.cols).await?,
                        affected: 0,
                    }
                });
            }
            Ok(out)
        }
    }

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

    /// Draws the next permit serial: never the same one twice (gaps are allowed).
    fn next_serial(&mut self) -> impl Future<Output = Result<u32, StoreError>> + Send {
        async move {
            let done = self
                .script(vec![super::common::serial_stmt(self.dialect())])
                .await?;
            super::common::parse_serial(done.first().and_then(|d| d.rows.first()))
        }
    }

    /// The last licence status change stored, where the connection knows it without a round
    /// trip of the caller's own (the SQLite writer reads it once per transaction, with the
    /// permit serial); `None` elsewhere, where the caller's reads or statement check it.
    fn last_status_mark(
        &mut self,
    ) -> impl Future<Output = Result<Option<super::StatusMark>, StoreError>> + Send {
        async { Ok(None) }
    }

    /// Whether [`Conn::next_serial`] answers without a round trip to the database (the SQLite
    /// writer keeps the counter), so that a new permit request can be written in one script.
    fn local_serials(&self) -> bool {
        false
    }

    /// Whether a failure of the caller's job rolls back its whole transaction, which then runs
    /// again with the job in a savepoint of its own (the SQLite writer's batches without
    /// savepoints): the job needs no savepoint of its own to undo a part of its work and go on.
    fn runs_again_on_failure(&self) -> bool {
        false
    }

    /// How many of its statements the last [`Conn::script`] completed before the error that
    /// stopped it, where the connection knows (the SQLite writer).
    fn done_before_error(&self) -> Option<usize> {
        None
    }

    /// Whether the writes of a new permit request go to the database as one statement of
    /// data-modifying common table expressions, outside any transaction of the caller
    /// (PostgreSQL's one-statement path): the statement is its own transaction.
    fn one_statement(&self) -> bool {
        false
    }

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

/// Reads a driver's row as the columns' types say (the same for every sqlx driver).
pub(crate) fn decode<R>(row: &R, cols: &[Ty]) -> Result<Row, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> NaiveDate: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut out = Vec::with_capacity(cols.len());
    for (i, ty) in cols.iter().enumerate() {
        let v = match ty {
            Ty::I64 => row.try_get::<Option<i64>, _>(i).map(|v| v.map(V::I64)),
            Ty::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map(V::Text)),
            Ty::Bytes => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map(|v| v.map(V::Bytes)),
            Ty::Bool => row.try_get::<Option<bool>, _>(i).map(|v| v.map(V::Bool)),
            Ty::Date => row
                .try_get::<Option<NaiveDate>, _>(i)
                .map(|v| v.map(V::Date)),
            Ty::Time => row
                .try_get::<Option<DateTime<Utc>>, _>(i)
                .map(|v| v.map(V::Time)),
        }
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))?;
        out.push(v.unwrap_or(V::Null(*ty)));
    }
    Ok(Row(out))
}

/// The [`Conn`] methods that read the same for every sqlx connection, for its `impl Conn`:
/// each statement's arguments go through the driver module's own `bind` (which says how the
/// driver takes arrays), and its rows through [`decode`].
macro_rules! sqlx_conn_methods {
    () => {
        async fn exec(
            &mut self,
            sql: &str,
            args: Vec<$crate::store::sql::V>,
        ) -> Result<u64, $crate::store::StoreError> {
            let q = query(sql, args);
            Ok(q.execute(&mut *self)
                .await
                .map_err($crate::store::sql::map_err)?
                .rows_affected())
        }

        async fn rows(
            &mut self,
            sql: &str,
            args: Vec<$crate::store::sql::V>,
            cols: &[$crate::store::sql::Ty],
        ) -> Result<Vec<$crate::store::sql::Row>, $crate::store::StoreError> {
            let q = query(sql, args);
            let rows = q
                .fetch_all(&mut *self)
                .await
                .map_err($crate::store::sql::map_err)?;
            rows.iter()
                .map(|r| $crate::store::sql::decode(r, cols))
                .collect()
        }

        async fn each_row<F>(
            &mut self,
            sql: &str,
            args: Vec<$crate::store::sql::V>,
            cols: &[$crate::store::sql::Ty],
            mut f: F,
        ) -> Result<(), $crate::store::StoreError>
        where
            F: FnMut($crate::store::sql::Row) -> Result<(), $crate::store::StoreError> + Send,
        {
            let q = query(sql, args);
            let mut rows = q.fetch(&mut *self);
            while let Some(r) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
                f($crate::store::sql::decode(
                    &r.map_err($crate::store::sql::map_err)?,
                    cols,
                )?)?;
            }
            Ok(())
        }
    };
}
pub(crate) use sqlx_conn_methods;

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

/// What a thread made of statement texts, by the text and then a small key (an offset, a
/// size): the same statements are joined into scripts for every message, and making them
/// again each time (scanning their text) cost more than running some of them. Past `MAX`
/// distinct texts it starts over (the statements are templates: a few hundred in all).
pub(crate) struct Kept<K, T, const MAX: usize = 4096> {
    by_text: hashbrown::HashMap<String, Vec<(K, T)>, rustc_hash::FxBuildHasher>,
}

impl<K, T, const MAX: usize> Default for Kept<K, T, MAX> {
    fn default() -> Self {
        Kept {
            by_text: hashbrown::HashMap::default(),
        }
    }
}

impl<K: PartialEq, T, const MAX: usize> Kept<K, T, MAX> {
    /// What was made of `sql` for `key`, made by `make` the first time it is asked for.
    pub(crate) fn get(&mut self, sql: &str, key: K, make: impl FnOnce() -> T) -> &T {
        if self.by_text.len() >= MAX && !self.by_text.contains_key(sql) {
            self.by_text.clear();
        }
        let made = self.by_text.entry_ref(sql).or_default();
        let at = match made.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                made.push((key, make()));
                made.len() - 1
            }
        };
        &made[at].1
    }
}

thread_local! {
    /// Renumbered statements ([`shift_params`]), by their offset.
    static SHIFTED: std::cell::RefCell<Kept<usize, Box<str>>> = std::cell::RefCell::default();
}

/// Appends `sql` with every parameter `$n` renumbered to `$(n + offset)` to `out`, so that
/// statements can be joined into one query whose parameters are numbered across all of them.
/// Quoted literals and identifiers are left alone.
pub(crate) fn shift_params(sql: &str, offset: usize, out: &mut String) {
    if offset == 0 {
        out.push_str(sql);
        return;
    }
    SHIFTED.with(|shifted| {
        out.push_str(shifted.borrow_mut().get(sql, offset, || {
            let mut s = String::with_capacity(sql.len() + 16);
            shift_uncached(sql, offset, &mut s);
            s.into()
        }))
    });
}

fn shift_uncached(sql: &str, offset: usize, out: &mut String) {
    let rest = each_param(sql, |before, n| {
        out.push_str(before);
        out.push('$');
        out.push_str(&(n + offset).to_string());
    });
    out.push_str(rest);
}

/// Calls `f` for every parameter `$n` of `sql` outside quoted literals and identifiers, in
/// the order of the text, with the text between it and the one before; returns the text after
/// the last one.
fn each_param<'s>(sql: &'s str, mut f: impl FnMut(&'s str, usize)) -> &'s str {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    while i < b.len() {
        let ch = b[i];
        match quote {
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                i += 1;
            }
            None if ch == b'\'' || ch == b'"' => {
                quote = Some(ch);
                i += 1;
            }
            None if ch == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let n: usize = sql[i + 1..j].parse().expect("ASCII digits");
                f(&sql[start..i], n);
                start = j;
                i = j;
            }
            None => i += 1,
        }
    }
    &sql[start..]
}

/// A statement with anonymous parameters (`?`, SQLite): its text, and for each `?` in the
/// order of the text the argument it takes and whether no later `?` takes it; `None` when they
/// take the arguments one after the other.
struct Anonymous {
    sql: Box<str>,
    params: usize,
    order: Option<Box<[(usize, bool)]>>,
}

impl Anonymous {
    fn of(sql: &str, or_fail: bool) -> Anonymous {
        let failing = if or_fail { with_or_fail(sql) } else { None };
        let sql = failing.as_deref().unwrap_or(sql);
        let mut out = String::with_capacity(sql.len());
        let mut order = Vec::new();
        let rest = each_param(sql, |before, n| {
            out.push_str(before);
            out.push('?');
            order.push(n.saturating_sub(1));
        });
        out.push_str(rest);
        let in_order = order.iter().enumerate().all(|(i, n)| i == *n);
        let last = |k: usize| !order[k + 1..].contains(&order[k]);
        let order: Vec<(usize, bool)> = (0..order.len()).map(|k| (order[k], last(k))).collect();
        Anonymous {
            sql: out.into(),
            params: order.len(),
            order: (!in_order).then(|| order.into()),
        }
    }
}

/// `sql` with the conflict clause `OR FAIL` when it is an `INSERT INTO` or an `UPDATE`
/// without one; `None` when it is neither.
fn with_or_fail(sql: &str) -> Option<String> {
    let start = sql.len() - sql.trim_start().len();
    let (head, rest) = sql.split_at(start);
    ["INSERT INTO ", "UPDATE "].into_iter().find_map(|verb| {
        let tail = rest.strip_prefix(verb)?;
        if verb == "UPDATE " && tail.starts_with("OR ") {
            return None;
        }
        let (word, after) = verb.split_once(' ').unwrap_or((verb, ""));
        Some(format!("{head}{word} OR FAIL {after}{tail}"))
    })
}

thread_local! {
    /// Statements with anonymous parameters ([`anonymous_params`]), by whether they are made
    /// `OR FAIL`.
    static ANONYMOUS: std::cell::RefCell<Kept<bool, Anonymous>> = std::cell::RefCell::default();
}

/// Appends `sql` with its parameters `$n` made anonymous (`?`) to `out`, and the arguments
/// they take, in the order of the text, to `to`: an argument a statement uses twice is
/// passed twice, one it does not use is dropped, a parameter without an argument is NULL.
///
/// SQLite finds the number of a named parameter by a walk over the list of the statement's
/// names, and sqlx asks for the name of each parameter it binds: the square of their number
/// for every statement run. Anonymous parameters have no names: sqlx binds them in order,
/// each statement of a script after the arguments of the one before, so that statements join
/// into one script without being renumbered.
///
/// `or_fail`: an `INSERT INTO` or `UPDATE` is made `INSERT OR FAIL INTO` or `UPDATE OR FAIL`.
/// A statement that fails then keeps the rows it wrote before the failure; with SQLite's
/// default (`ABORT`) it takes them back, and so first copies every page that it changes into
/// a statement journal. Only for a connection whose every failing statement is taken back
/// by a savepoint or by the rollback of its transaction (the SQLite writer's).
pub(crate) fn anonymous_params(
    sql: &str,
    args: Vec<V>,
    or_fail: bool,
    out: &mut String,
    to: &mut Vec<V>,
) {
    ANONYMOUS.with(|kept| {
        let mut kept = kept.borrow_mut();
        let a = kept.get(sql, or_fail, || Anonymous::of(sql, or_fail));
        out.push_str(&a.sql);
        match &a.order {
            None => {
                let given = args.len();
                to.extend(args.into_iter().take(a.params));
                to.extend((given..a.params).map(|_| V::Null(Ty::Text)));
            }
            Some(order) => {
                let mut args: Vec<Option<V>> = args.into_iter().map(Some).collect();
                to.extend(order.iter().map(|(i, last)| {
                    let v = match args.get_mut(*i) {
                        Some(slot) if *last => slot.take(),
                        Some(slot) => slot.clone(),
                        None => None,
                    };
                    v.unwrap_or(V::Null(Ty::Text))
                }));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{anonymous_params, shift_params, with_or_fail, Ty, V};

    fn check(sql: &str, offset: usize, expected: &str) {
        // The second time from the thread's cache.
        for _ in 0..2 {
            let mut out = String::from("SELECT 1;\n");
            shift_params(sql, offset, &mut out);
            assert_eq!(
                out,
                format!("SELECT 1;\n{expected}"),
                "{sql} shifted by {offset}"
            );
        }
    }

    #[test]
    fn parameters_are_renumbered() {
        check("SELECT $1", 0, "SELECT $1");
        check("SELECT $1, $2", 3, "SELECT $4, $5");
        check("VALUES ($9, $10, $11)", 1, "VALUES ($10, $11, $12)");
        check(
            "SELECT $1 || '$2' || \"$3\"",
            5,
            "SELECT $6 || '$2' || \"$3\"",
        );
        check("SELECT 'it''s $1', $1", 1, "SELECT 'it''s $1', $2");
        check(
            "SELECT value->>'$.a' FROM t WHERE x = $2",
            2,
            "SELECT value->>'$.a' FROM t WHERE x = $4",
        );
        check("SELECT $ FROM t", 1, "SELECT $ FROM t");
        check("", 4, "");
        check("SELECT $1, $2", 7, "SELECT $8, $9");
        check("SELECT $1, $2", 0, "SELECT $1, $2");
    }

    /// `sql` with arguments 1, 2, … as many as `given`; `expected_args` lists the arguments
    /// passed, 0 for NULL.
    fn check_anonymous(sql: &str, given: i64, expected: &str, expected_args: &[i64]) {
        for _ in 0..2 {
            let (mut out, mut to) = (String::from("SELECT 1;\n"), vec![V::I64(-1)]);
            anonymous_params(
                sql,
                (1..=given).map(V::I64).collect(),
                false,
                &mut out,
                &mut to,
            );
            assert_eq!(out, format!("SELECT 1;\n{expected}"), "{sql}");
            let args: Vec<i64> = to[1..]
                .iter()
                .map(|v| match v {
                    V::I64(x) => *x,
                    V::Null(Ty::Text) => 0,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(args, expected_args, "{sql} with {given} arguments");
            assert_eq!(to[0], V::I64(-1), "the arguments before are kept");
        }
    }

    #[test]
    fn parameters_are_made_anonymous() {
        check_anonymous("SELECT $1, $2", 2, "SELECT ?, ?", &[1, 2]);
        check_anonymous("SELECT $2, $1", 2, "SELECT ?, ?", &[2, 1]);
        check_anonymous("SELECT $1 WHERE x = $1", 1, "SELECT ? WHERE x = ?", &[1, 1]);
        check_anonymous("SELECT $1, $3", 3, "SELECT ?, ?", &[1, 3]);
        check_anonymous("SELECT $1", 3, "SELECT ?", &[1]);
        check_anonymous("SELECT $1, $2", 1, "SELECT ?, ?", &[1, 0]);
        check_anonymous("SELECT $2", 1, "SELECT ?", &[0]);
        check_anonymous("VALUES ($9, $10)", 10, "VALUES (?, ?)", &[9, 10]);
        check_anonymous("SELECT '$1', \"$2\", $1", 1, "SELECT '$1', \"$2\", ?", &[1]);
        check_anonymous(
            "SELECT value->>'$.a' WHERE x = $1",
            1,
            "SELECT value->>'$.a' WHERE x = ?",
            &[1],
        );
        check_anonymous("SELECT $ FROM t", 0, "SELECT $ FROM t", &[]);
        check_anonymous("SAVEPOINT one", 0, "SAVEPOINT one", &[]);
        check_anonymous("", 2, "", &[]);
    }

    fn check_or_fail(sql: &str, expected: &str) {
        let (mut out, mut to) = (String::new(), Vec::new());
        anonymous_params(sql, vec![V::I64(1)], true, &mut out, &mut to);
        assert_eq!(out, expected, "{sql}");
        let made = expected.contains("OR FAIL") && !sql.contains("OR FAIL");
        assert_eq!(with_or_fail(sql).is_some(), made, "{sql}");
    }

    #[test]
    fn writes_are_made_or_fail() {
        check_or_fail(
            "INSERT INTO t (a) VALUES ($1)",
            "INSERT OR FAIL INTO t (a) VALUES (?)",
        );
        check_or_fail(
            "INSERT INTO t (a) SELECT $1 ON CONFLICT (a) DO NOTHING RETURNING id",
            "INSERT OR FAIL INTO t (a) SELECT ? ON CONFLICT (a) DO NOTHING RETURNING id",
        );
        check_or_fail("UPDATE t SET a = $1", "UPDATE OR FAIL t SET a = ?");
        check_or_fail("\n  UPDATE t SET a = $1", "\n  UPDATE OR FAIL t SET a = ?");
        check_or_fail(
            "UPDATE OR IGNORE t SET a = $1",
            "UPDATE OR IGNORE t SET a = ?",
        );
        check_or_fail(
            "INSERT OR IGNORE INTO t VALUES ($1)",
            "INSERT OR IGNORE INTO t VALUES (?)",
        );
        check_or_fail("SELECT $1", "SELECT ?");
        check_or_fail("DELETE FROM t WHERE a = $1", "DELETE FROM t WHERE a = ?");
        check_or_fail("SAVEPOINT one", "SAVEPOINT one");
        check_or_fail(
            "WITH x AS (SELECT $1) UPDATE t SET a = 1",
            "WITH x AS (SELECT ?) UPDATE t SET a = 1",
        );
        check_or_fail("insert into t values ($1)", "insert into t values (?)");
        // Made once per text and kind: the same text without OR FAIL is kept apart.
        check_anonymous("UPDATE t SET a = $1", 1, "UPDATE t SET a = ?", &[1]);
    }
}
