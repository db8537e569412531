//! Token ids, the input of an `Embedding`: `T` ids below a vocabulary of `V`, checked when they
//! are built, so that a network never looks up a row its table does not have.

use core::fmt;

use crate::layer::Row;

/// The largest vocabulary: ids are kept as `f32` (so that a row of them is a [`Row`] like any
/// other, and a dataset gathers them as it gathers pixels), which holds every integer up to 2²⁴
/// exactly.
pub const MAX_VOCABULARY: usize = 1 << 24;

/// `T` token ids, each below the vocabulary size `V`: one sample of a network that starts with
/// `Embedding(V, ..)`, whose input type it is.
///
/// An id outside the vocabulary is an error when the tokens are built, never an out-of-bounds
/// read: [`Tokens::new`] and [`Tokens::from_ids`] check every id.
///
/// ```
/// use netdsl_core::tokens::{TokenError, Tokens};
///
/// let sentence = Tokens::<4, 10>::new([3, 1, 4, 1])?;
/// assert_eq!(sentence.ids().collect::<Vec<_>>(), [3, 1, 4, 1]);
///
/// let err = Tokens::<4, 10>::new([3, 1, 14, 1]).unwrap_err();
/// assert_eq!(err, TokenError::OutOfVocabulary { position: 2, id: 14, vocabulary: 10 });
/// assert_eq!(err.to_string(), "token 14 at position 2 is outside the vocabulary of 10 ids (0 to 9)");
/// # Ok::<(), TokenError>(())
/// ```
///
/// Its [`Row`] values are the ids as `f32` (`3.0, 1.0, 4.0, 1.0`), exact below
/// [`MAX_VOCABULARY`].
#[derive(Clone, Copy, PartialEq, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(transparent)]
pub struct Tokens<const T: usize, const V: usize>([f32; T]);

/// Why ids could not become [`Tokens`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TokenError {
    /// An id at or past the vocabulary size.
    OutOfVocabulary {
        /// Where in the sample, from 0.
        position: usize,
        /// The id.
        id: u64,
        /// The vocabulary size, `V`.
        vocabulary: usize,
    },
    /// A slice of ids of another length than the `T` a sample has.
    Length {
        /// `T`.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A [`Row`] value that is not a whole number from 0 up to the vocabulary (what a float
    /// dataset fed to an `Embedding` network gives).
    NotAnId {
        /// Where in the sample, from 0.
        position: usize,
        /// The value.
        value: f32,
        /// The vocabulary size, `V`.
        vocabulary: usize,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfVocabulary {
                position,
                id,
                vocabulary,
            } => write!(
                f,
                "token {id} at position {position} is outside the vocabulary of {vocabulary} ids (0 to {})",
                vocabulary.saturating_sub(1)
            ),
            Self::Length { expected, found } => {
                write!(f, "expected {expected} token ids, found {found}")
            }
            Self::NotAnId {
                position,
                value,
                vocabulary,
            } => write!(
                f,
                "value {value} at position {position} is not a token id: expected a whole number from 0 to {}",
                vocabulary.saturating_sub(1)
            ),
        }
    }
}

impl core::error::Error for TokenError {}

impl<const T: usize, const V: usize> Tokens<T, V> {
    /// Evaluated by every constructor: a vocabulary whose ids `f32` cannot all hold does not
    /// compile.
    const VOCABULARY_FITS: () = assert!(
        V >= 1 && V <= MAX_VOCABULARY,
        "`Tokens`: the vocabulary must hold from 1 to 2^24 ids"
    );

    /// The ids `ids`, each checked to be below `V`.
    ///
    /// # Errors
    ///
    /// [`TokenError::OutOfVocabulary`] for the first id at or past `V`.
    pub fn new(ids: [u32; T]) -> Result<Self, TokenError> {
        Self::from_ids(&ids)
    }

    /// The ids of a slice of `T` integers of any unsigned width (`u8` for bytes, `u16`,
    /// `u32`, `usize`), each checked to be below `V`.
    ///
    /// ```
    /// use netdsl_core::tokens::{TokenError, Tokens};
    ///
    /// let bytes: &[u8] = b"\x00\x07\x0f";
    /// let tokens = Tokens::<3, 16>::from_ids(bytes)?;
    /// assert_eq!(tokens.id(1), 7);
    /// assert_eq!(
    ///     Tokens::<4, 16>::from_ids(bytes),
    ///     Err(TokenError::Length { expected: 4, found: 3 })
    /// );
    /// # Ok::<(), TokenError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TokenError::Length`] if the slice does not hold `T` ids, and
    /// [`TokenError::OutOfVocabulary`] for the first id at or past `V`.
    pub fn from_ids<I: Copy + TryInto<u64>>(ids: &[I]) -> Result<Self, TokenError> {
        let () = Self::VOCABULARY_FITS;
        if ids.len() != T {
            return Err(TokenError::Length {
                expected: T,
                found: ids.len(),
            });
        }
        let mut values = [0.0; T];
        for (position, (value, &id)) in values.iter_mut().zip(ids).enumerate() {
            // Every unsigned type fits a `u64`; a wider one that does not is out of range.
            let id = id.try_into().unwrap_or(u64::MAX);
            if id >= V as u64 {
                return Err(TokenError::OutOfVocabulary {
                    position,
                    id,
                    vocabulary: V,
                });
            }
            *value = id as f32;
        }
        Ok(Self(values))
    }

    /// The id at `position`.
    ///
    /// # Panics
    ///
    /// If `position >= T`.
    pub fn id(&self, position: usize) -> u32 {
        self.0[position] as u32
    }

    /// The ids, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.0.iter().map(|&id| id as u32)
    }

    /// Checks that `values` are whole numbers below `V`: what a row of floats must be to be
    /// read as tokens (a [`Dataset`](crate::data::Dataset)'s inputs, say).
    ///
    /// # Errors
    ///
    /// [`TokenError::NotAnId`] for the first value that is not.
    pub fn check_values(values: &[f32]) -> Result<(), TokenError> {
        match values.iter().position(|&v| index_of::<V>(v).is_none()) {
            Some(position) => Err(TokenError::NotAnId {
                position,
                value: values[position],
                vocabulary: V,
            }),
            None => Ok(()),
        }
    }
}

/// The row of a table of `V` rows that `value` names, if it is a whole number below `V`: what
/// an `Embedding` looks up, so that a row built without [`Tokens::new`] (bytes cast to tokens)
/// never reads out of bounds.
pub fn index_of<const V: usize>(value: f32) -> Option<usize> {
    // NaN fails the comparisons; in range, a value is whole when the cast to an integer (which
    // drops the fraction) gives it back.
    let in_range = value >= 0.0 && value < V as f32;
    (in_range && value as usize as f32 == value).then_some(value as usize)
}

impl<const T: usize, const V: usize> Row for Tokens<T, V> {
    const WIDTH: usize = T;
}

impl<const T: usize, const V: usize> Default for Tokens<T, V> {
    /// Every id 0.
    fn default() -> Self {
        Self([0.0; T])
    }
}

impl<const T: usize, const V: usize> fmt::Debug for Tokens<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl<const T: usize, const V: usize> TryFrom<[u32; T]> for Tokens<T, V> {
    type Error = TokenError;

    fn try_from(ids: [u32; T]) -> Result<Self, TokenError> {
        Self::new(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_the_vocabulary_round_trip() {
        let tokens = Tokens::<3, 5>::new([4, 0, 2]).unwrap();
        assert_eq!(tokens.values(), [4.0, 0.0, 2.0]);
        assert_eq!(tokens.ids().collect::<Vec<_>>(), [4, 0, 2]);
        assert_eq!(format!("{tokens:?}"), "[4, 0, 2]");
        let big = Tokens::<1, MAX_VOCABULARY>::new([(MAX_VOCABULARY - 1) as u32]).unwrap();
        assert_eq!(big.id(0), (MAX_VOCABULARY - 1) as u32);
    }

    #[test]
    fn ids_outside_the_vocabulary_are_errors() {
        assert_eq!(
            Tokens::<3, 5>::new([4, 5, 0]),
            Err(TokenError::OutOfVocabulary {
                position: 1,
                id: 5,
                vocabulary: 5
            })
        );
        assert_eq!(
            Tokens::<1, 5>::from_ids(&[u64::MAX]),
            Err(TokenError::OutOfVocabulary {
                position: 0,
                id: u64::MAX,
                vocabulary: 5
            })
        );
        assert_eq!(
            Tokens::<2, 5>::from_ids(&[1_u16]),
            Err(TokenError::Length {
                expected: 2,
                found: 1
            })
        );
    }

    #[test]
    fn only_whole_numbers_below_the_vocabulary_are_ids() {
        assert_eq!(index_of::<5>(4.0), Some(4));
        assert_eq!(index_of::<5>(0.0), Some(0));
        assert_eq!(index_of::<5>(-0.0), Some(0));
        for bad in [5.0, -1.0, 0.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(index_of::<5>(bad), None, "{bad}");
        }
        assert_eq!(Tokens::<2, 5>::check_values(&[1.0, 3.0]), Ok(()));
        let err = Tokens::<2, 5>::check_values(&[1.0, 0.5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value 0.5 at position 1 is not a token id: expected a whole number from 0 to 4"
        );
    }
}
