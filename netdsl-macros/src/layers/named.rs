//! A layer written by name (`=> Encoder =>`, `=> layers::Scale2x =>`): a network defined with
//! `network!` or a type implementing `Layer` and `Initialize`. Its widths come from its type, so
//! only rustc can compare its input with the layer before: the macro asserts it.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::Path;
use syn::spanned::Spanned;

use super::Checked;
use crate::mask::MaskRule;
use crate::model::{Kind, Layer, Shape, Width};
use crate::tokens::private_at;

struct Named(Path);

/// The layer `path` names; its output is whatever its type says.
pub fn named(path: &Path) -> Checked {
    Checked {
        kind: Box::new(Named(path.clone())),
        output: Shape::Flat(Width::OutputOf(path.clone())),
    }
}

impl Kind for Named {
    fn ty(&self, _layer: &Layer) -> TokenStream {
        self.0.to_token_stream()
    }

    fn activation(&self) -> TokenStream {
        let (p, path) = (private_at(self.0.span()), &self.0);
        quote_spanned!(self.0.span()=> <#path as #p::Layer>::Activation)
    }

    fn constructor(&self, layer: &Layer) -> TokenStream {
        let (p, path) = (private_at(layer.span()), &self.0);
        quote_spanned!(layer.span()=> <#path as #p::Initialize>::initialize(rng))
    }

    /// `<<Encoder as Layer>::In as Row>::WIDTH`.
    fn declared_input(&self, layer: &Layer) -> Option<(Span, TokenStream)> {
        let (span, path) = (layer.span(), &self.0);
        let p = private_at(span);
        Some((
            span,
            quote_spanned!(span=> <<#path as #p::Layer>::In as #p::Row>::WIDTH),
        ))
    }

    fn takes_foreign_rows(&self) -> bool {
        true
    }

    /// Given the mask of its input, it may read it and make one (`Layer::set_input_mask`,
    /// `Layer::output_mask`), whatever the macro knows of it: a network with `Masking` inside,
    /// or a layer of yours.
    fn mask_rule(&self) -> MaskRule {
        MaskRule::Unknown
    }
}
