//! Accuracy: whether one prediction counts as a hit.

/// The index of the largest value (the first one on ties), as `numpy.argmax`.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Categorical accuracy: the predicted class (arg-max of `y`) is the target's class.
pub fn categorical_hit(y: &[f32], t: &[f32]) -> bool {
    argmax(y) == argmax(t)
}

/// Binary accuracy: `y` and `t` fall on the same side of 0.5.
pub fn binary_hit(y: f32, t: f32) -> bool {
    (y > 0.5) == (t > 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[3.0]), 0);
    }

    #[test]
    fn hits() {
        assert!(categorical_hit(&[0.1, 0.8, 0.1], &[0.0, 1.0, 0.0]));
        assert!(!categorical_hit(&[0.6, 0.3, 0.1], &[0.0, 1.0, 0.0]));
        assert!(binary_hit(0.7, 1.0));
        assert!(!binary_hit(0.5, 1.0));
    }
}
