import * as tf from '@tensorflow/tfjs';

/** The single TensorFlow.js instance every oodkit library uses (import it from here, not from tfjs). */
export { tf };
