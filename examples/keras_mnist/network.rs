// Written by python/netdsl_keras/examples/train_mnist.py (netdsl_keras' declaration of the
// Keras model it trained); included by examples/keras_mnist.rs.
network! {
    pub struct KerasMnist<(28, 28, 1) => Conv2d(8, 3, relu) => MaxPool2d(2) => Flatten => Dropout(0.25) => Dense(10, softmax)>;
}
