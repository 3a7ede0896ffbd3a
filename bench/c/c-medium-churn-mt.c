/* c-medium-churn-mt: c-medium-churn on every worker thread. */
#define CHURN_NAME "c-medium-churn-mt"
#define CHURN_MT 1
#include "c-medium-churn.c"
