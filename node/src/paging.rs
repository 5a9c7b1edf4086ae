//! One pagination scheme for every REST list: `?page=N&per_page=M` (pages count from 1;
//! 30 per page unless asked, at most 100), 422 outside those bounds, and a `Link` header
//! with `rel="next"` while there is more, as on GitHub.

use axum::Json;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Items per page unless asked otherwise.
pub const PER_PAGE: usize = 30;
/// Items per page at most.
pub const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// The page a list request asks for, and the path to link the next one to.
#[derive(Debug, Clone)]
pub struct Paged {
    /// The page, from 1.
    pub page: usize,
    /// Items per page.
    pub per_page: usize,
    path: String,
}

impl Paged {
    /// The first page of `per_page` items, for a list read inside the node (a web page).
    pub(crate) fn first(per_page: usize) -> Paged {
        Paged {
            page: 1,
            per_page,
            path: String::new(),
        }
    }

    /// Items before this page.
    pub fn skip(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Items to gather, in order, to fill this page and know whether another follows.
    pub fn want(&self) -> usize {
        self.skip().saturating_add(self.per_page).saturating_add(1)
    }

    /// This page of `all` (every item in order, or at least [`Paged::want`] of them), and
    /// whether more follow.
    pub fn cut<T>(&self, all: impl IntoIterator<Item = T>) -> (Vec<T>, bool) {
        let mut items: Vec<T> = all
            .into_iter()
            .skip(self.skip())
            .take(self.per_page + 1)
            .collect();
        let more = items.len() > self.per_page;
        items.truncate(self.per_page);
        (items, more)
    }

    /// The JSON answer for a page: `items`, with a `Link` to the next page if `more`.
    pub fn respond<T: Serialize>(&self, items: Vec<T>, more: bool) -> Response {
        let mut resp = Json(items).into_response();
        if more {
            let link = format!(
                "<{}?page={}&per_page={}>; rel=\"next\"",
                self.path,
                self.page + 1,
                self.per_page
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                resp.headers_mut().insert(header::LINK, v);
            }
        }
        resp
    }

    /// [`Paged::cut`] then [`Paged::respond`].
    pub fn page_of<T: Serialize>(&self, all: impl IntoIterator<Item = T>) -> Response {
        let (items, more) = self.cut(all);
        self.respond(items, more)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paged {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        let page = q.page.unwrap_or(1);
        let per_page = q.per_page.unwrap_or(PER_PAGE);
        if page == 0 || per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("page must be at least 1 and per_page between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok(Paged {
            page,
            per_page,
            path: parts.uri.path().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Paged;

    fn paged(page: usize, per_page: usize) -> Paged {
        Paged {
            page,
            per_page,
            path: "/api/v1/things".into(),
        }
    }

    #[test]
    fn pages_cut_in_order_and_tell_whether_more_follow() {
        assert_eq!(paged(1, 3).cut(0..10), (vec![0, 1, 2], true));
        assert_eq!(paged(4, 3).cut(0..10), (vec![9], false));
        assert_eq!(paged(5, 3).cut(0..10), (vec![], false));
        assert_eq!(paged(2, 5).cut(0..10), (vec![5, 6, 7, 8, 9], false));
        assert_eq!(paged(1, 5).want(), 6);
        let resp = paged(2, 3).respond(vec![1], true);
        assert_eq!(
            resp.headers()["link"],
            "</api/v1/things?page=3&per_page=3>; rel=\"next\""
        );
    }
}
