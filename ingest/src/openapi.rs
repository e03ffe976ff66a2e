//! `GET /openapi.json`: OpenAPI 3.1 of every route, generated from the handlers.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Imagegram", description = "Posts with one image, comments, and a feed ranked by comments."),
    paths(
        crate::posts::create_post,
        crate::feed::feed,
        crate::tus::options,
        crate::tus::create,
        crate::tus::head,
        crate::tus::patch,
        crate::tus::delete,
        crate::reads::get_post,
        crate::reads::get_image,
        crate::comments::add_comment,
        crate::comments::delete_comment,
        crate::legacy::upload,
        crate::legacy::comment,
        crate::legacy::old_feed,
        crate::health::healthz,
        crate::health::readyz,
        crate::events::events,
        crate::admin::rebuild::rebuild,
        crate::auth::dev::available,
        crate::auth::dev::sign_in,
        crate::admin::replay::replay,
        crate::admin::inspect::status,
        crate::admin::inspect::dead_letters,
    ),
    components(schemas(crate::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
