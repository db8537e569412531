//! Masks of padded sequences (Keras' masking), followed through a network as the checks walk
//! it: which layer made the mask each layer reads, so that the generated code hands it over;
//! and, where Keras would give a layer a mask that netdsl's layers cannot pass on or read,
//! an error saying so, rather than a network that silently computes something else.
//!
//! Each layer kind says what it does with the mask of its input ([`MaskRule`], from
//! [`Kind::mask_rule`](crate::model::Kind::mask_rule)): Keras drops it in the layers that do not
//! support masking (`Flatten`, `Conv1D`: none after them, silently, as in Keras), passes it on in
//! those that do (`Dropout`, `LayerNormalization`; a recurrent layer returning every step and
//! `MultiHeadAttention` read it, then pass it on), or makes one (`Masking`). A join whose
//! branches carry different masks, which Keras would combine and netdsl cannot, loses it: an
//! error if a layer after it reads it.

use std::cell::Cell;
use std::rc::Rc;

use proc_macro2::TokenStream;
use syn::Ident;

use crate::errors::Errors;

/// Where the generated code reads a mask.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Route {
    /// The network's own input mask, which it is given as a layer (`set_input_mask`,
    /// `infer_masked`): how a branch of a join reads the mask of the join's input.
    Input,
    /// The `output_mask` of the layer in this field of the network.
    Layer(Ident),
}

/// A mask as the checks follow it.
#[derive(Clone)]
pub struct Mask {
    /// Where it is read, which also tells masks apart: two routes, two masks.
    pub route: Route,
    /// The layer that made it, for messages: "`Masking` (layer 1 of `Net`)".
    made_by: String,
    /// The layer as written: `Masking`.
    made_text: String,
    /// Whether the layer surely makes one: a layer given by name may make none.
    certain: bool,
}

/// What the input of a layer carries.
#[derive(Clone, Default)]
pub enum MaskState {
    /// No mask, in Keras either.
    #[default]
    None,
    /// A mask the generated code hands on.
    Carried(Mask),
    /// A mask Keras would carry here, which the layer `by` could not pass on.
    Lost {
        mask: Mask,
        by: String,
        tokens: TokenStream,
        /// Whether its error was reported: the two lines of a `Bidirectional` meet it twice.
        reported: Rc<Cell<bool>>,
    },
}

/// What a layer does with the mask of its input, as Keras' layer of its kind does and as far
/// as netdsl's can follow.
#[derive(Clone)]
pub enum MaskRule {
    /// Keras drops it: the layer does not support masking (`Flatten`, `Conv1D`, `Reshape`).
    Drops,
    /// Passes it on unchanged, in Keras and here (`Dropout`).
    PassesOn,
    /// Keras' layer reads it, netdsl's cannot (`BatchNormalization` leaves padded steps out of
    /// its statistics): an error whenever a mask reaches it. Says what Keras' layer does.
    CannotRead(&'static str),
    /// Reads it (`Layer::set_input_mask`), then passes it on or not: a recurrent layer, which
    /// passes it on when it returns every step.
    Reads { passes_on: bool },
    /// Makes a new one from its input, whatever its input carries (`Masking`).
    Makes,
    /// Reads it, and makes its own of it (`Reverse`, whose mask is the reversed one).
    Remakes,
    /// A layer given by name: it is given the mask, and may make one (`Layer::output_mask`).
    Unknown,
    /// A join of branches: it reads the mask when one of them does, and its output carries
    /// `output`.
    Join { reads: bool, output: JoinOutput },
}

/// What the output of a join carries, given what its input carries.
#[derive(Clone)]
pub enum JoinOutput {
    /// The input's mask, as Keras' `Add` and `Concatenate` give the mask their branches share
    /// (and `Bidirectional` when it returns every step).
    Input,
    /// No mask.
    Nothing,
    /// The logical and of other masks, which Keras would compute and netdsl cannot; one of them.
    Other(Mask),
}

/// The layer a mask reaches.
pub struct At<'a> {
    pub field: &'a Ident,
    /// "`LSTM(8)` (layer 2 of `Net`)".
    pub name: String,
    /// As written: `LSTM(8)`.
    pub text: &'a str,
    pub tokens: &'a TokenStream,
}

impl Mask {
    fn made_at(at: &At, certain: bool) -> Self {
        Mask {
            route: Route::Layer(at.field.clone()),
            made_by: at.name.clone(),
            made_text: at.text.to_owned(),
            certain,
        }
    }
}

impl MaskState {
    /// The mask Keras would carry here, whether netdsl carries it or lost it.
    pub fn mask(&self) -> Option<&Mask> {
        match self {
            MaskState::None => None,
            MaskState::Carried(mask) | MaskState::Lost { mask, .. } => Some(mask),
        }
    }

    /// `mask`, lost by the layer `at` (unless no layer surely made it: then it is as good as
    /// none).
    fn lost(mask: &Mask, at: &At) -> Self {
        if !mask.certain {
            return MaskState::None;
        }
        MaskState::Lost {
            mask: mask.clone(),
            by: at.name.clone(),
            tokens: at.tokens.clone(),
            reported: Rc::default(),
        }
    }

    /// What the input of a network carries: the mask it may be given as a layer of another
    /// (a Keras model passes its input's mask to its layers), if any, which the checks cannot
    /// count on.
    pub fn given(network: &Ident) -> Self {
        MaskState::Carried(Mask {
            route: Route::Input,
            made_by: format!("the mask given to `{network}`"),
            made_text: network.to_string(),
            certain: false,
        })
    }

    /// What the input of a join's branch carries when the join's carries this: the same mask,
    /// which the branch, a network of its own, reads as its input's.
    pub fn for_branch(&self) -> Self {
        let rooted = |mask: &Mask| Mask {
            route: Route::Input,
            ..mask.clone()
        };
        match self {
            MaskState::None => MaskState::None,
            MaskState::Carried(mask) => MaskState::Carried(rooted(mask)),
            MaskState::Lost {
                mask,
                by,
                tokens,
                reported,
            } => MaskState::Lost {
                mask: rooted(mask),
                by: by.clone(),
                tokens: tokens.clone(),
                reported: Rc::clone(reported),
            },
        }
    }

    /// The route a carried mask is read from.
    fn route(&self) -> Option<Route> {
        match self {
            MaskState::Carried(mask) => Some(mask.route.clone()),
            _ => None,
        }
    }
}

/// The mask the layer `at` reads (where the generated code finds it) and what its output
/// carries, given what its input carries and its kind's `rule`; reports a mask Keras would
/// give the layer that netdsl cannot.
pub fn through(
    state: &MaskState,
    rule: &MaskRule,
    at: &At,
    errors: &mut Errors,
) -> (Option<Route>, MaskState) {
    use MaskRule as R;
    use MaskState as S;
    match (state, rule) {
        (_, R::Makes) => (None, S::Carried(Mask::made_at(at, true))),
        (_, R::Unknown) => (state.route(), S::Carried(Mask::made_at(at, false))),
        (_, R::Join { reads, output }) => {
            let reads = reads.then(|| state.route()).flatten();
            let after = match output {
                JoinOutput::Input => state.clone(),
                JoinOutput::Nothing => S::None,
                JoinOutput::Other(mask) => S::lost(mask, at),
            };
            (reads, after)
        }
        (S::None, _) | (_, R::Drops) => (None, S::None),
        (S::Carried(_) | S::Lost { .. }, R::PassesOn) => (None, state.clone()),
        (S::Carried(mask), R::Reads { passes_on }) => {
            let after = if *passes_on { state.clone() } else { S::None };
            (Some(mask.route.clone()), after)
        }
        (S::Carried(mask), R::Remakes) => {
            let remade = Mask {
                route: Route::Layer(at.field.clone()),
                ..mask.clone()
            };
            (Some(mask.route.clone()), S::Carried(remade))
        }
        (S::Lost { .. }, R::Remakes) => (None, state.clone()),
        (S::Carried(mask), R::CannotRead(what)) => {
            if mask.certain {
                errors.push(syn::Error::new_spanned(
                    at.tokens,
                    format_args!(
                        "{} cannot read the mask of {}, which Keras' layer reads {what}; read the sequence with a recurrent layer without `return_sequences` before it, or leave the mask out",
                        at.name, mask.made_by
                    ),
                ));
            }
            (None, S::None)
        }
        (
            S::Lost {
                mask,
                by,
                tokens,
                reported,
            },
            R::Reads { .. } | R::CannotRead(_),
        ) => {
            if !reported.replace(true) {
                errors.push(syn::Error::new_spanned(
                    tokens,
                    format_args!(
                        "{by} cannot pass on the mask of {}, which Keras passes on to {}; put `{}` right after `{}` (a join whose branches carry different masks does not keep it), or leave the mask out",
                        mask.made_by, at.name, at.text, mask.made_text
                    ),
                ));
            }
            (None, S::None)
        }
    }
}

/// What a join's output carries, from what each branch's output carries (`Route::Input` being
/// the join's input mask), as Keras' `Add` and `Concatenate` merge masks: the logical and of
/// the branches' masks, leaving out those without one. A residual block adds its input, which
/// carries the input's mask.
pub fn merged(branches: &[MaskState], residual: bool) -> JoinOutput {
    let mut output = if residual {
        JoinOutput::Input
    } else {
        JoinOutput::Nothing
    };
    for mask in branches.iter().filter_map(MaskState::mask) {
        if mask.route == Route::Input {
            if let JoinOutput::Nothing = output {
                output = JoinOutput::Input;
            }
        } else if mask.certain {
            return JoinOutput::Other(mask.clone());
        }
    }
    output
}
