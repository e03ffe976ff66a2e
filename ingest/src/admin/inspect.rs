//! `GET /v1/admin/status` and `GET /v1/admin/dead-letters`: what
//! `imagegram status` and `imagegram dlq list` show, read here when this
//! process holds the log.

use axum::extract::{Query, State};
use axum::Json;
use imagegram_platform::status::Status;
use imagegram_processors::dead_letters::{self, Listed};
use imagegram_projections::READ_MODEL;
use imagegram_schemas::topics::Consumer;
use serde::Deserialize;

use crate::auth::Operator;
use crate::state::AppState;
use crate::Problem;

/// Lag per consumer and topic, dead letters and open uploads.
#[utoipa::path(get, path = "/v1/admin/status", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "the status, as `imagegram status` prints it", content_type = "application/json"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "not an operator token", content_type = "application/problem+json")))]
pub async fn status(State(state): State<AppState>, _: Operator) -> Result<Json<Status>, Problem> {
    let status =
        imagegram_platform::status::gather(&*state.log, &*state.read_model, &*state.uploads, READ_MODEL)
            .await?;
    Ok(Json(status))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Which {
    /// A consumer group, e.g. `imagegram.projector` (default: every consumer).
    consumer: Option<String>,
}

/// Every dead letter, with where it came from and why.
#[utoipa::path(get, path = "/v1/admin/dead-letters", tag = "admin", security(("bearer" = [])), params(Which),
    responses((status = 200, description = "the dead letters, as `imagegram dlq list` prints them", content_type = "application/json"),
        (status = 400, description = "no such consumer", content_type = "application/problem+json"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "not an operator token", content_type = "application/problem+json")))]
pub async fn dead_letters(
    State(state): State<AppState>,
    _: Operator,
    Query(which): Query<Which>,
) -> Result<Json<Vec<Listed>>, Problem> {
    let consumers: Vec<Consumer> = match which.consumer.as_deref() {
        None => Consumer::ALL.to_vec(),
        Some(name) => match Consumer::ALL.into_iter().find(|c| c.group() == name) {
            Some(consumer) => vec![consumer],
            None => {
                return Err(Problem::client(
                    axum::http::StatusCode::BAD_REQUEST,
                    "no-such-consumer",
                    format!("there is no consumer {name}"),
                ))
            }
        },
    };
    Ok(Json(dead_letters::listing(&*state.log, &consumers).await?))
}
