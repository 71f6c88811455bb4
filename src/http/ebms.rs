//! `POST /ebms`: the message service handler endpoint.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::protect::read_limited;
use super::tls::PeerIdentity;
use super::{AppState, Error};

pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let peer = req.extensions().get::<PeerIdentity>().cloned();
    match read_limited(req, state.settings.server.max_body_bytes).await {
        Err(e) => e.into_response(),
        Ok((_parts, body)) => {
            tracing::debug!(
                bytes = body.len(),
                peer_cn = peer
                    .as_ref()
                    .and_then(|p| p.subject_cn.as_deref())
                    .unwrap_or(""),
                "message received"
            );
            Error::Internal(anyhow::anyhow!("message processing is not available yet"))
                .into_response()
        }
    }
}
