/* validate: being written */
