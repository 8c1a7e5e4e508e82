// Registers every op family (one import per family file).
import './elementwise.js';
import './position.js';
import './cast.js';
import './linear.js';
import './attention.js';
import './recurrent.js';
import './quant.js';
import './matmul.js';
