//! Several instances on one PostgreSQL database: instance heartbeats, zone leases with fencing epochs, forwarded
//! manual writes and `LISTEN`/`NOTIFY`. PostgreSQL only: SQLite mode is single-instance (a second server on the same
//! file is refused at start), so these methods answer [`StorageError::SingleInstance`] there.
//!
//! Every lease time is the database's clock (`now()`), never an instance's: an instance's clock skew changes
//! nothing. A lease is one row per zone (primary key), so a zone never has two; it is taken only when free or
//! expired (the conditional `ON CONFLICT … WHERE expires_at <= now()`), zone rows locked `FOR NO KEY UPDATE SKIP
//! LOCKED` so instances taking leases at once take different zones (and never wait on each other or on the
//! readings' foreign-key locks). Each lease taken gets a new epoch from one sequence: the fencing token a write
//! checks ([`Storage::lease_holds`]).

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgListener, PgPool};

use super::rows::{ReadRow, time_of};
use crate::storage::{Command, CommandSource, Reading, Storage, StorageError, ZoneId};
use crate::time::to_ms;

/// `NOTIFY` channel: leases were released (an instance left or shed zones); others take them at once.
pub const LEASES_CHANNEL: &str = "heating_leases";
/// `NOTIFY` channel: a forwarded write was queued (payload: the zone id).
pub const FORWARD_CHANNEL: &str = "heating_forwarded";

/// An instance as its heartbeat row says.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: String,
    pub name: String,
    pub advertised_url: Option<String>,
    pub started_at: DateTime<Utc>,
    /// Last heartbeat (database clock).
    pub heartbeat_at: DateTime<Utc>,
    pub zones_held: i64,
    /// Its heartbeat is younger than one lease period.
    pub alive: bool,
}

/// Who this instance is, for its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub id: String,
    pub name: String,
    pub advertised_url: Option<String>,
}

/// A zone lease this instance holds: the zone and its fencing epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    pub zone_id: ZoneId,
    pub epoch: i64,
}

/// A manual write queued for the zone's owner.
#[derive(Debug, Clone, PartialEq)]
pub struct NewForwarded {
    pub zone_id: ZoneId,
    pub target_temp: f64,
    pub source: CommandSource,
    pub reason: Option<String>,
    pub actor: String,
    pub hold_until: Option<DateTime<Utc>>,
    pub occupied_at_start: bool,
    pub set_at: DateTime<Utc>,
    pub from_instance: String,
}

/// A queued write, claimed by the owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Forwarded {
    pub id: i64,
    pub request: NewForwarded,
}

/// Where a forwarded write stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardState {
    Queued,
    Claimed,
    /// Sent by the owner: its command row (confirmed or failed), or an error when none could be written.
    Done {
        command_id: Option<i64>,
        error: Option<String>,
    },
    Expired,
}

/// Notifications on the channels listened to (one dedicated connection).
pub struct Notifications(PgListener);

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifications")
    }
}

impl Notifications {
    /// The next notification: (channel, payload). An error when the connection was lost (sqlx reconnects at the
    /// next call; notifications sent meanwhile are lost, which is why every user also polls).
    pub async fn next(&mut self) -> Result<(String, String), StorageError> {
        let n = self.0.recv().await?;
        Ok((n.channel().to_string(), n.payload().to_string()))
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Storage {
    fn pg(&self) -> Result<&PgPool, StorageError> {
        match self {
            Self::Postgres(s) => Ok(&s.pool),
            Self::Sqlite(_) => Err(StorageError::SingleInstance),
        }
    }

    /// Whether several instances may share this database (PostgreSQL).
    #[must_use]
    pub fn shares_instances(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Writes the instance's heartbeat (database clock) with how many zones it holds; deletes instances whose
    /// heartbeat is older than `forget` (their leases have long expired).
    pub async fn heartbeat(
        &self,
        me: &InstanceIdentity,
        zones_held: usize,
        forget: std::time::Duration,
    ) -> Result<(), StorageError> {
        let pool = self.pg()?;
        sqlx::query(
            "INSERT INTO instances (id, name, advertised_url, zones_held) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), zones_held = excluded.zones_held, \
             name = excluded.name, advertised_url = excluded.advertised_url",
        )
        .bind(&me.id)
        .bind(&me.name)
        .bind(me.advertised_url.as_deref())
        .bind(i64::try_from(zones_held).unwrap_or(i64::MAX))
        .execute(pool)
        .await?;
        sqlx::query("DELETE FROM instances WHERE heartbeat_at < now() - $1 * interval '1 millisecond'")
            .bind(ms(forget))
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Every known instance by id; `alive` when its heartbeat is younger than `period`.
    pub async fn list_instances(&self, period: std::time::Duration) -> Result<Vec<InstanceRecord>, StorageError> {
        let pool = self.pg()?;
        let rows = sqlx::query(
            "SELECT id, name, advertised_url, \
                    (extract(epoch FROM started_at) * 1000)::bigint AS started_ms, \
                    (extract(epoch FROM heartbeat_at) * 1000)::bigint AS heartbeat_ms, zones_held::bigint AS held, \
                    heartbeat_at > now() - $1 * interval '1 millisecond' AS alive \
             FROM instances ORDER BY id",
        )
        .bind(ms(period))
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InstanceRecord {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    advertised_url: r.try_get("advertised_url")?,
                    started_at: time_of(r.try_get("started_ms")?, "started_at")?,
                    heartbeat_at: time_of(r.try_get("heartbeat_ms")?, "heartbeat_at")?,
                    zones_held: r.try_get("held")?,
                    alive: r.try_get("alive")?,
                })
            })
            .collect()
    }

    /// Deletes the instance's heartbeat row (it is leaving).
    pub async fn remove_instance(&self, id: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM instances WHERE id = $1").bind(id).execute(self.pg()?).await?;
        Ok(())
    }

    /// (rows, latest `updated_ms`) of the zone table: changes when a zone is created, edited or deleted.
    pub async fn zones_version(&self) -> Result<(i64, i64), StorageError> {
        let row = sqlx::query("SELECT count(*), COALESCE(max(updated_ms), 0) FROM zones").fetch_one(self.pg()?).await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Zones that can be leased: those with a device endpoint.
    pub async fn leasable_zones(&self) -> Result<i64, StorageError> {
        let row = sqlx::query("SELECT count(*) FROM zones WHERE modbus_port IS NOT NULL").fetch_one(self.pg()?).await?;
        Ok(row.try_get(0)?)
    }

    /// Extends every unexpired lease of `instance` to `ttl` from now; the leases it still holds. A lease that
    /// expired is not renewed (someone may have taken it; if not, it is taken again with a new epoch).
    pub async fn renew_leases(
        &self,
        instance: &str,
        ttl: std::time::Duration,
    ) -> Result<Vec<LeaseGrant>, StorageError> {
        let rows = sqlx::query(
            "UPDATE zone_leases SET expires_at = now() + $2 * interval '1 millisecond' \
             WHERE instance_id = $1 AND expires_at > now() RETURNING zone_id, epoch",
        )
        .bind(instance)
        .bind(ms(ttl))
        .fetch_all(self.pg()?)
        .await?;
        grants(&rows)
    }

    /// Takes up to `n` free or expired zone leases for `instance` (lowest zone ids first), each with a new epoch.
    pub async fn acquire_leases(
        &self,
        instance: &str,
        n: i64,
        ttl: std::time::Duration,
    ) -> Result<Vec<LeaseGrant>, StorageError> {
        if n <= 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "WITH free AS ( \
                 SELECT z.id FROM zones z \
                 WHERE z.modbus_port IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM zone_leases l WHERE l.zone_id = z.id AND l.expires_at > now()) \
                 ORDER BY z.id LIMIT $2 FOR NO KEY UPDATE OF z SKIP LOCKED) \
             INSERT INTO zone_leases (zone_id, instance_id, expires_at, epoch) \
             SELECT id, $1, now() + $3 * interval '1 millisecond', nextval('zone_lease_epochs') FROM free \
             ON CONFLICT (zone_id) DO UPDATE SET instance_id = excluded.instance_id, \
                 expires_at = excluded.expires_at, epoch = excluded.epoch \
             WHERE zone_leases.expires_at <= now() \
             RETURNING zone_id, epoch",
        )
        .bind(instance)
        .bind(n)
        .bind(ms(ttl))
        .fetch_all(self.pg()?)
        .await?;
        grants(&rows)
    }

    /// Releases the given leases of `instance` (all of them with `None`) and tells the others (`NOTIFY`), which
    /// take them at once.
    pub async fn release_leases(&self, instance: &str, zones: Option<&[ZoneId]>) -> Result<u64, StorageError> {
        let pool = self.pg()?;
        let done = match zones {
            None => sqlx::query("DELETE FROM zone_leases WHERE instance_id = $1").bind(instance).execute(pool).await?,
            Some(ids) => {
                sqlx::query("DELETE FROM zone_leases WHERE instance_id = $1 AND zone_id = ANY($2)")
                    .bind(instance)
                    .bind(ids)
                    .execute(pool)
                    .await?
            }
        };
        self.notify(LEASES_CHANNEL, instance).await?;
        Ok(done.rows_affected())
    }

    /// Whether `instance` holds the zone's lease of `epoch` for at least `margin` more (database clock): a write
    /// checked so completes before anyone else may take the zone.
    pub async fn lease_holds(
        &self,
        zone_id: ZoneId,
        instance: &str,
        epoch: i64,
        margin: std::time::Duration,
    ) -> Result<bool, StorageError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM zone_leases WHERE zone_id = $1 AND instance_id = $2 AND epoch = $3 \
             AND expires_at > now() + $4 * interval '1 millisecond')",
        )
        .bind(zone_id)
        .bind(instance)
        .bind(epoch)
        .bind(ms(margin))
        .fetch_one(self.pg()?)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The unexpired leases of `instance` now (database clock).
    pub async fn leases_held(&self, instance: &str) -> Result<Vec<LeaseGrant>, StorageError> {
        let rows = sqlx::query("SELECT zone_id, epoch FROM zone_leases WHERE instance_id = $1 AND expires_at > now()")
            .bind(instance)
            .fetch_all(self.pg()?)
            .await?;
        grants(&rows)
    }

    /// The newest stored reading of each of `zones` that has one.
    pub async fn latest_readings(&self, zones: &[ZoneId]) -> Result<Vec<Reading>, StorageError> {
        if zones.is_empty() {
            return Ok(Vec::new());
        }
        let sql = concat!(
            "SELECT r.* FROM unnest($1::bigint[]) AS z(id) CROSS JOIN LATERAL (SELECT ",
            columns!(readings),
            " FROM sensor_readings WHERE zone_id = z.id ORDER BY ts_ms DESC LIMIT 1) r"
        );
        let rows = sqlx::query(sql).bind(zones).fetch_all(self.pg()?).await?;
        rows.iter().map(ReadRow::reading).collect()
    }

    /// `NOTIFY channel, payload`.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StorageError> {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(self.pg()?).await?;
        Ok(())
    }

    /// A dedicated connection listening on `channels`.
    pub async fn listen(&self, channels: &[&str]) -> Result<Notifications, StorageError> {
        let mut listener = PgListener::connect_with(self.pg()?).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(Notifications(listener))
    }

    // --- forwarded writes ---

    /// Queues a write for the zone's owner and tells it (`NOTIFY`); the row's id.
    pub async fn queue_forwarded(&self, f: &NewForwarded) -> Result<i64, StorageError> {
        let pool = self.pg()?;
        let row = sqlx::query(
            "INSERT INTO forwarded_commands (zone_id, target_temp, source, reason, actor, hold_until_ms, \
             occupied_at_start, set_ms, from_instance) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(f.zone_id)
        .bind(f.target_temp)
        .bind(f.source.as_str())
        .bind(f.reason.as_deref())
        .bind(&f.actor)
        .bind(f.hold_until.map(to_ms))
        .bind(f.occupied_at_start)
        .bind(to_ms(f.set_at))
        .bind(&f.from_instance)
        .fetch_one(pool)
        .await?;
        let id: i64 = row.try_get(0)?;
        self.notify(FORWARD_CHANNEL, &f.zone_id.to_string()).await?;
        Ok(id)
    }

    /// Claims the queued writes for zones `instance` holds (each claimed once: `queued` → `claimed`).
    pub async fn claim_forwarded(&self, instance: &str) -> Result<Vec<Forwarded>, StorageError> {
        let rows = sqlx::query(
            "UPDATE forwarded_commands f SET status = 'claimed', claimed_by = $1 \
             WHERE f.id IN (SELECT q.id FROM forwarded_commands q JOIN zone_leases l ON l.zone_id = q.zone_id \
                 WHERE q.status = 'queued' AND l.instance_id = $1 AND l.expires_at > now() \
                 ORDER BY q.id FOR UPDATE OF q SKIP LOCKED) \
             RETURNING f.id, f.zone_id, f.target_temp, f.source, f.reason, f.actor, f.hold_until_ms, \
                 f.occupied_at_start, f.set_ms, f.from_instance",
        )
        .bind(instance)
        .fetch_all(self.pg()?)
        .await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                let until: Option<i64> = r.try_get("hold_until_ms")?;
                let source: String = r.try_get("source")?;
                Ok(Forwarded {
                    id: r.try_get("id")?,
                    request: NewForwarded {
                        zone_id: r.try_get("zone_id")?,
                        target_temp: r.try_get("target_temp")?,
                        source: source.parse().map_err(|_| StorageError::Corrupt(format!("source {source:?}")))?,
                        reason: r.try_get("reason")?,
                        actor: r.try_get("actor")?,
                        hold_until: until.map(|t| time_of(t, "hold_until_ms")).transpose()?,
                        occupied_at_start: r.try_get("occupied_at_start")?,
                        set_at: time_of(r.try_get("set_ms")?, "set_ms")?,
                        from_instance: r.try_get("from_instance")?,
                    },
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        claimed.sort_by_key(|f| f.id);
        Ok(claimed)
    }

    /// Records what the owner did with a claimed write.
    pub async fn finish_forwarded(
        &self,
        id: i64,
        command: Option<&Command>,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE forwarded_commands SET status = 'done', command_id = $2, error = $3 WHERE id = $1")
            .bind(id)
            .bind(command.map(|c| c.id))
            .bind(error)
            .execute(self.pg()?)
            .await?;
        Ok(())
    }

    /// Where the forwarded write stands.
    pub async fn forwarded_state(&self, id: i64) -> Result<ForwardState, StorageError> {
        let row = sqlx::query("SELECT status, command_id, error FROM forwarded_commands WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pg()?)
            .await?
            .ok_or(StorageError::NotFound { what: "forwarded command" })?;
        let status: String = row.try_get("status")?;
        Ok(match status.as_str() {
            "queued" => ForwardState::Queued,
            "claimed" => ForwardState::Claimed,
            "done" => ForwardState::Done { command_id: row.try_get("command_id")?, error: row.try_get("error")? },
            _ => ForwardState::Expired,
        })
    }

    /// Gives up a write nobody claimed yet (so it is never sent late); whether it was still queued.
    pub async fn expire_forwarded(&self, id: i64) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE forwarded_commands SET status = 'expired' WHERE id = $1 AND status = 'queued'")
            .bind(id)
            .execute(self.pg()?)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn grants(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<LeaseGrant>, StorageError> {
    let mut out = rows
        .iter()
        .map(|r| Ok(LeaseGrant { zone_id: r.try_get("zone_id")?, epoch: r.try_get("epoch")? }))
        .collect::<Result<Vec<_>, StorageError>>()?;
    out.sort_by_key(|g| g.zone_id);
    Ok(out)
}
